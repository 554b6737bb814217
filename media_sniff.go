package waqtor

import (
	"bytes"
	"mime"
	"net/http"
	"strings"
)

// The formats WhatsApp shows for each media kind. Documents take any bytes.
// WhatsApp's clients play MP4 and 3GPP video, Ogg/Opus, MP3, AAC (ADTS), M4A
// and AMR audio, and show JPEG, PNG and WebP images (WebP only for stickers in
// practice, but clients display it as an image too).
var mediaFormats = map[ContentType][]string{
	ContentAudio:   {"audio/aac", "audio/amr", "audio/mp4", "audio/mpeg", "audio/ogg"},
	ContentImage:   {"image/jpeg", "image/png", "image/webp"},
	ContentSticker: {"image/webp"},
	ContentVideo:   {"video/3gpp", "video/mp4"},
}

// sniffMedia names the format of media bytes: one of the media types of
// mediaFormats when the bytes start like one, else what
// http.DetectContentType says (without parameters).
//
// http.DetectContentType alone is not enough: it recognises MP4 only by some
// brands (not 3GPP or M4A), MP3 only with an ID3 tag, and neither AAC nor AMR.
func sniffMedia(data []byte) string {
	switch {
	case bytes.HasPrefix(data, []byte("\xFF\xD8\xFF")):
		return "image/jpeg"
	case bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1A\n")):
		return "image/png"
	case len(data) >= 12 && string(data[:4]) == "RIFF" && string(data[8:12]) == "WEBP":
		return "image/webp"
	case len(data) >= 12 && string(data[4:8]) == "ftyp":
		// ISO base media file (MP4 family); the major brand says which.
		brand := string(data[8:12])
		switch {
		case strings.HasPrefix(brand, "3gp"), strings.HasPrefix(brand, "3g2"):
			return "video/3gpp"
		case brand == "M4A " || brand == "M4B " || brand == "M4P ":
			return "audio/mp4"
		case brand == "qt  ":
			return "video/quicktime"
		}
		return "video/mp4"
	case bytes.HasPrefix(data, []byte("OggS")):
		return "audio/ogg"
	case bytes.HasPrefix(data, []byte("ID3")):
		return "audio/mpeg"
	case bytes.HasPrefix(data, []byte("#!AMR")):
		return "audio/amr"
	case bytes.HasPrefix(data, []byte("ADIF")):
		return "audio/aac"
	case len(data) >= 2 && data[0] == 0xFF && data[1]&0xF6 == 0xF0:
		// ADTS frame sync (12 bits set) with layer 00: AAC.
		return "audio/aac"
	case len(data) >= 3 && data[0] == 0xFF && data[1]&0xE0 == 0xE0 && data[1]&0x06 != 0 &&
		data[1]&0x18 != 0x08 && data[2]&0xF0 != 0xF0 && data[2]&0x0C != 0x0C:
		// MPEG audio frame sync with a valid version, a layer, a bitrate index
		// other than "bad" and a sample rate other than "reserved": MP3 without
		// an ID3 tag.
		return "audio/mpeg"
	}
	mt, _, err := mime.ParseMediaType(http.DetectContentType(data))
	if err != nil {
		return "application/octet-stream"
	}
	return mt
}

// mediaFormat checks that data is in a format WhatsApp shows as kind and
// returns its media type for the message (audio in an MP4 container is
// audio/mp4; Ogg audio is Opus, the only codec WhatsApp plays in Ogg). field
// names the input the bytes came from, for the error. Documents take anything.
func mediaFormat(kind ContentType, data []byte, field string) (string, error) {
	got := sniffMedia(data)
	if kind == ContentDocument {
		return got, nil
	}
	if kind == ContentAudio && (got == "video/mp4" || got == "video/3gpp") {
		got = "audio/mp4" // an MP4 file without a telling brand may hold audio only
	}
	want := mediaFormats[kind]
	for _, w := range want {
		if got == w {
			if got == "audio/ogg" {
				return "audio/ogg; codecs=opus", nil
			}
			return got, nil
		}
	}
	return "", fieldErr(ErrInvalidMessage, field, "holds %s content, but %s media must be one of %s",
		got, kind, strings.Join(want, ", "))
}

// checkDeclaredMIME refuses a declared media type that contradicts the kind
// (an image sent as "video/mp4"): WhatsApp would not show it.
func checkDeclaredMIME(kind ContentType, declared string) error {
	if declared == "" || kind == ContentDocument {
		return nil
	}
	mt, _, err := mime.ParseMediaType(declared)
	if err != nil {
		return fieldErr(ErrInvalidMessage, "mime", "is not a media type: %v", err)
	}
	family := map[ContentType]string{ContentAudio: "audio/", ContentImage: "image/", ContentVideo: "video/"}[kind]
	switch {
	case kind == ContentSticker && mt != "image/webp":
		return fieldErr(ErrInvalidMessage, "mime", "must be image/webp for a sticker, not %s", mt)
	case family != "" && !strings.HasPrefix(mt, family):
		return fieldErr(ErrInvalidMessage, "mime", "must be %s* for %s media, not %s", family, kind, mt)
	}
	return nil
}
