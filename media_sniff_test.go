package waqtor

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
)

// Leading bytes of real files of each format.
var sniffSamples = map[string]struct {
	data []byte
	want string
}{
	"JPEG":         {[]byte("\xFF\xD8\xFF\xE0\x00\x10JFIF\x00"), "image/jpeg"},
	"PNG":          {[]byte("\x89PNG\r\n\x1A\n\x00\x00\x00\rIHDR"), "image/png"},
	"WebP":         {[]byte("RIFF\x24\x00\x00\x00WEBPVP8 "), "image/webp"},
	"GIF":          {[]byte("GIF89a\x01\x00\x01\x00"), "image/gif"},
	"MP4":          {[]byte("\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41"), "video/mp4"},
	"3GP":          {[]byte("\x00\x00\x00\x14ftyp3gp4\x00\x00\x00\x003gp4"), "video/3gpp"},
	"M4A":          {[]byte("\x00\x00\x00\x1CftypM4A \x00\x00\x02\x00M4A mp42isom"), "audio/mp4"},
	"QuickTime":    {[]byte("\x00\x00\x00\x14ftypqt  \x00\x00\x02\x00qt  "), "video/quicktime"},
	"OggOpus":      {[]byte("OggS\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00OpusHead"), "audio/ogg"},
	"MP3WithID3":   {[]byte("ID3\x04\x00\x00\x00\x00\x00\x00"), "audio/mpeg"},
	"MP3FrameOnly": {[]byte("\xFF\xFB\x90\x64\x00\x00"), "audio/mpeg"},
	"AACADTS":      {[]byte("\xFF\xF1\x50\x80\x02\x1F\xFC"), "audio/aac"},
	"AACADIF":      {[]byte("ADIF\x00\x00"), "audio/aac"},
	"AMR":          {[]byte("#!AMR\n\x3C"), "audio/amr"},
	"Text":         {[]byte("hello, this is not a picture"), "text/plain"},
	"HTML":         {[]byte("<!DOCTYPE html><html>"), "text/html"},
	"PDF":          {[]byte("%PDF-1.7\n"), "application/pdf"},
	"Empty":        {nil, "text/plain"},
	"BadMP3Header": {[]byte("\xFF\xFB\xF0\x00"), "application/octet-stream"}, // bitrate index 1111 is invalid
	"ShortFtyp":    {[]byte("\x00\x00\x00\x08ftyp"), "application/octet-stream"},
}

func TestSniffMedia(t *testing.T) {
	t.Parallel()
	for name, tt := range sniffSamples {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, sniffMedia(tt.data))
		})
	}
}

func TestMediaFormat(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		kind   ContentType
		sample string
		want   string // the media type, or "" when refused
	}{
		"ImageJPEG":        {ContentImage, "JPEG", "image/jpeg"},
		"ImagePNG":         {ContentImage, "PNG", "image/png"},
		"ImageWebP":        {ContentImage, "WebP", "image/webp"},
		"ImageText":        {ContentImage, "Text", ""},
		"ImageGIF":         {ContentImage, "GIF", ""}, // WhatsApp sends GIFs as MP4 video
		"ImageMP4":         {ContentImage, "MP4", ""},
		"StickerWebP":      {ContentSticker, "WebP", "image/webp"},
		"StickerPNG":       {ContentSticker, "PNG", ""},
		"VideoMP4":         {ContentVideo, "MP4", "video/mp4"},
		"Video3GP":         {ContentVideo, "3GP", "video/3gpp"},
		"VideoQuickTime":   {ContentVideo, "QuickTime", ""},
		"VideoM4A":         {ContentVideo, "M4A", ""},
		"VideoJPEG":        {ContentVideo, "JPEG", ""},
		"AudioOgg":         {ContentAudio, "OggOpus", "audio/ogg; codecs=opus"},
		"AudioMP3":         {ContentAudio, "MP3WithID3", "audio/mpeg"},
		"AudioMP3Frame":    {ContentAudio, "MP3FrameOnly", "audio/mpeg"},
		"AudioAAC":         {ContentAudio, "AACADTS", "audio/aac"},
		"AudioADIF":        {ContentAudio, "AACADIF", "audio/aac"},
		"AudioM4A":         {ContentAudio, "M4A", "audio/mp4"},
		"AudioInMP4":       {ContentAudio, "MP4", "audio/mp4"},
		"AudioAMR":         {ContentAudio, "AMR", "audio/amr"},
		"AudioText":        {ContentAudio, "Text", ""},
		"AudioPNG":         {ContentAudio, "PNG", ""},
		"DocumentText":     {ContentDocument, "Text", "text/plain"},
		"DocumentPDF":      {ContentDocument, "PDF", "application/pdf"},
		"DocumentAnything": {ContentDocument, "BadMP3Header", "application/octet-stream"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := mediaFormat(tt.kind, sniffSamples[tt.sample].data, "url")
			if tt.want == "" {
				var fe *FieldError
				require.ErrorAs(t, err, &fe)
				require.ErrorIs(t, err, ErrInvalidMessage)
				require.Equal(t, "url", fe.Field)
				require.Contains(t, fe.Reason, sniffSamples[tt.sample].want, "the error names what was detected")
				require.Contains(t, fe.Reason, string(tt.kind))
				return
			}
			require.NoError(t, err)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Fatalf("media type (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCheckDeclaredMIME(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		kind     ContentType
		declared string
		ok       bool
	}{
		"None":             {ContentImage, "", true},
		"ImageJPEG":        {ContentImage, "image/jpeg", true},
		"ImageAsVideo":     {ContentImage, "video/mp4", false},
		"VoiceWithCodecs":  {ContentAudio, "audio/ogg; codecs=opus", true},
		"AudioAsText":      {ContentAudio, "text/plain", false},
		"StickerPNG":       {ContentSticker, "image/png", false},
		"StickerWebP":      {ContentSticker, "image/webp", true},
		"DocumentAnything": {ContentDocument, "application/x-whatever", true},
		"Malformed":        {ContentVideo, "video/", false},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			err := checkDeclaredMIME(tt.kind, tt.declared)
			if tt.ok {
				require.NoError(t, err)
				return
			}
			var fe *FieldError
			require.ErrorAs(t, err, &fe)
			require.Equal(t, "mime", fe.Field)
		})
	}
}

// FuzzSniffMedia checks the sniffer on any bytes: it never panics, only names
// formats whose signature the bytes carry, agrees with http.DetectContentType
// where that recognises a format WhatsApp takes, and mediaFormat accepts
// exactly what the sniffer names for the kind.
func FuzzSniffMedia(f *testing.F) {
	for _, s := range sniffSamples {
		f.Add(s.data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got := sniffMedia(data)
		require.NotEmpty(t, got)
		require.False(t, strings.Contains(got, ";"), "no parameters: %q", got)
		switch got {
		case "image/jpeg", "image/png", "image/webp":
			std, _, _ := strings.Cut(http.DetectContentType(data), ";")
			require.Equal(t, got, std, "the standard sniffer agrees on images")
		case "audio/ogg":
			require.True(t, strings.HasPrefix(string(data), "OggS"))
		case "video/mp4", "video/3gpp", "audio/mp4", "video/quicktime":
			require.Equal(t, "ftyp", string(data[4:8]))
		}
		for kind, formats := range mediaFormats {
			mt, err := mediaFormat(kind, data, "data")
			if err != nil {
				var fe *FieldError
				require.ErrorAs(t, err, &fe)
				continue
			}
			base, _, _ := strings.Cut(mt, ";")
			require.Contains(t, formats, base)
		}
		_, err := mediaFormat(ContentDocument, data, "data")
		require.NoError(t, err, "documents take anything")
	})
}
