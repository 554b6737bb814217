package whatsapp_test

import (
	"fmt"
	"os"
	"strings"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/whatsapp"
)

// The engine goes into the Core's Config; nil means the documented defaults.
func ExampleNew() {
	var engine waqtor.EngineFactory = whatsapp.New(&whatsapp.Config{
		DeviceName:      "Acme support", // listed under Linked devices on the phone
		InteractiveMode: waqtor.InteractivePoll,
	})
	fmt.Println(engine != nil)
	// Output: true
}

// A session.qr event's code becomes an image for a web page.
func ExampleQRDataURL() {
	url, err := whatsapp.QRDataURL("2@abc,def,ghi,jkl", 256)
	if err != nil {
		panic(err)
	}
	fmt.Println(strings.HasPrefix(url, "data:image/png;base64,"))
	// Output: true
}

// The example server prints codes to the terminal for a phone to scan.
func ExampleQRTerminal() {
	if err := whatsapp.QRTerminal(os.Stdout, "2@abc,def,ghi,jkl"); err != nil {
		panic(err)
	}
}
