package plugins

import (
	"errors"
	"fmt"

	"github.com/waqtor/waqtor"
	"github.com/waqtor/waqtor/plugins/internal/fromproto"
	"github.com/waqtor/waqtor/plugins/internal/proto"
	"github.com/waqtor/waqtor/plugins/internal/toproto"
)

// The conversions of this package's own protocol types. (Those of waqtor's
// types, shared by both sides, are in internal/toproto and internal/fromproto;
// these stay here because the converter packages cannot import this one.)

func infoToProto(i *Info) *proto.Info_Response {
	out := &proto.Info_Response{Name: i.Name, Version: i.Version}
	for _, k := range i.Kinds {
		out.EventKinds = append(out.EventKinds, string(k))
	}
	for _, c := range i.Commands {
		out.Commands = append(out.Commands, &proto.CommandInfo{Name: c.Name, Description: c.Description})
	}
	return out
}

func infoFromProto(p *proto.Info_Response) *Info {
	out := &Info{Name: p.GetName(), Version: p.GetVersion()}
	for _, k := range p.GetEventKinds() {
		out.Kinds = append(out.Kinds, waqtor.EventKind(k))
	}
	for _, c := range p.GetCommands() {
		out.Commands = append(out.Commands, CommandInfo{Name: c.GetName(), Description: c.GetDescription()})
	}
	return out
}

func sendToProto(a *SendAction) (*proto.SendAction, error) {
	if a == nil {
		return nil, errors.New("plugins: nil SendAction")
	}
	cj, media, err := toproto.Content(a.Content)
	if err != nil {
		return nil, err
	}
	return &proto.SendAction{Session: a.Session, Chat: a.Chat, ContentJson: cj, MediaData: media, Key: a.Key}, nil
}

func sendFromProto(p *proto.SendAction) (*SendAction, error) {
	if p == nil {
		return nil, fmt.Errorf("%w: missing send", waqtor.ErrInvalidMessage)
	}
	c, err := fromproto.Content(p.GetContentJson(), p.GetMediaData())
	if err != nil {
		return nil, err
	}
	return &SendAction{Session: p.GetSession(), Chat: p.GetChat(), Content: c, Key: p.GetKey()}, nil
}

func markReadToProto(a *MarkReadAction) *proto.MarkReadAction {
	return &proto.MarkReadAction{Session: a.Session, Chat: a.Chat, MessageIds: a.IDs, Sender: a.Sender}
}

func markReadFromProto(p *proto.MarkReadAction) *MarkReadAction {
	return &MarkReadAction{Session: p.GetSession(), Chat: p.GetChat(), IDs: p.GetMessageIds(), Sender: p.GetSender()}
}

func presenceToProto(a *PresenceAction) *proto.PresenceAction {
	return &proto.PresenceAction{Session: a.Session, Chat: a.Chat, Presence: string(a.Presence)}
}

func presenceFromProto(p *proto.PresenceAction) *PresenceAction {
	return &PresenceAction{Session: p.GetSession(), Chat: p.GetChat(), Presence: waqtor.ChatPresence(p.GetPresence())}
}

func actionToProto(a *Action) (*proto.Action, error) {
	n := 0
	out := &proto.Action{}
	if a.Send != nil {
		n++
		s, err := sendToProto(a.Send)
		if err != nil {
			return nil, err
		}
		out.Action = &proto.Action_Send{Send: s}
	}
	if a.MarkRead != nil {
		n++
		out.Action = &proto.Action_MarkRead{MarkRead: markReadToProto(a.MarkRead)}
	}
	if a.Presence != nil {
		n++
		out.Action = &proto.Action_Presence{Presence: presenceToProto(a.Presence)}
	}
	if n != 1 {
		return nil, fmt.Errorf("plugins: an Action must set exactly one field, not %d", n)
	}
	return out, nil
}

func actionFromProto(p *proto.Action) (Action, error) {
	switch v := p.GetAction().(type) {
	case *proto.Action_Send:
		s, err := sendFromProto(v.Send)
		if err != nil {
			return Action{}, err
		}
		return Action{Send: s}, nil
	case *proto.Action_MarkRead:
		if v.MarkRead == nil {
			break
		}
		return Action{MarkRead: markReadFromProto(v.MarkRead)}, nil
	case *proto.Action_Presence:
		if v.Presence == nil {
			break
		}
		return Action{Presence: presenceFromProto(v.Presence)}, nil
	}
	return Action{}, fmt.Errorf("%w: empty or unknown action", waqtor.ErrInvalidMessage)
}
