// Package reason is the table that maps errors to gRPC status codes and
// google.rpc.ErrorInfo reasons, shared by the converters in both directions.
package reason

import (
	"google.golang.org/grpc/codes"

	"github.com/waqtor/waqtor"
)

// Domain is the ErrorInfo domain of waqtor's errors.
const Domain = "waqtor"

// Reason ties a sentinel error to its code and wire name.
type Reason struct {
	// Code is the gRPC status code.
	Code codes.Code
	// Err is the sentinel; errors.Is(err, Err) selects the reason.
	Err error
	// Name is the ErrorInfo reason, UPPER_SNAKE_CASE.
	Name string
}

// Core lists the root package's sentinels. Order matters: the first match wins,
// so more specific errors come first.
var Core = []Reason{
	{codes.NotFound, waqtor.ErrSessionNotFound, "SESSION_NOT_FOUND"},
	{codes.NotFound, waqtor.ErrMessageNotFound, "MESSAGE_NOT_FOUND"},
	{codes.InvalidArgument, waqtor.ErrInvalidSessionID, "INVALID_SESSION_ID"},
	{codes.InvalidArgument, waqtor.ErrInvalidPhone, "INVALID_PHONE"},
	{codes.InvalidArgument, waqtor.ErrInvalidMessage, "INVALID_MESSAGE"},
	{codes.InvalidArgument, waqtor.ErrMediaTooLarge, "MEDIA_TOO_LARGE"},
	{codes.InvalidArgument, waqtor.ErrMediaFetch, "MEDIA_FETCH"},
	{codes.InvalidArgument, waqtor.ErrInvalidConsent, "INVALID_CONSENT"},
	{codes.FailedPrecondition, waqtor.ErrOptedOut, "OPTED_OUT"},
	{codes.FailedPrecondition, waqtor.ErrNotReady, "NOT_READY"},
	{codes.Unimplemented, waqtor.ErrUnsupported, "UNSUPPORTED"},
	{codes.Unavailable, waqtor.ErrStopped, "CORE_STOPPED"},
	{codes.Unavailable, waqtor.ErrNotStarted, "CORE_NOT_STARTED"},
	{codes.Unavailable, waqtor.ErrDatabase, "DATABASE"},
	{codes.InvalidArgument, waqtor.ErrConfig, "INVALID_ARGUMENT"},
}
