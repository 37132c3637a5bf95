package webrtc

import (
	"fmt"
	"log/slog"

	"github.com/pion/logging"
)

// slogLoggerFactory routes pion's logs into the leg's slog logger. pion's
// info lines are per-connection chatter, so they go out at debug level.
type slogLoggerFactory struct{ log *slog.Logger }

func (f slogLoggerFactory) NewLogger(scope string) logging.LeveledLogger {
	return slogLeveled{log: f.log.With("layer", "pion", "scope", scope)}
}

type slogLeveled struct{ log *slog.Logger }

func (s slogLeveled) Trace(string)                      {}
func (s slogLeveled) Tracef(string, ...any)             {}
func (s slogLeveled) Debug(msg string)                  { s.log.Debug(msg) }
func (s slogLeveled) Debugf(format string, args ...any) { s.log.Debug(fmt.Sprintf(format, args...)) }
func (s slogLeveled) Info(msg string)                   { s.log.Debug(msg) }
func (s slogLeveled) Infof(format string, args ...any)  { s.log.Debug(fmt.Sprintf(format, args...)) }
func (s slogLeveled) Warn(msg string)                   { s.log.Warn(msg) }
func (s slogLeveled) Warnf(format string, args ...any)  { s.log.Warn(fmt.Sprintf(format, args...)) }
func (s slogLeveled) Error(msg string)                  { s.log.Error(msg) }
func (s slogLeveled) Errorf(format string, args ...any) { s.log.Error(fmt.Sprintf(format, args...)) }
