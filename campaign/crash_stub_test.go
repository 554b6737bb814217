package campaign_test

const crashChildEnv = "WAQTOR_CAMPAIGN_CRASH_CHILD"

func crashChild() int { return 0 }
