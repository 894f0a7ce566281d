package fidelity

import "errors"

// Sentinel errors; returned errors wrap one of them or the model's error.
var (
	// ErrBadFrame: a frame whose size does not match its dimensions.
	ErrBadFrame = errors.New("fidelity: bad frame")
	// ErrBadEpisode: an episode that does not fit the model's Spec.
	ErrBadEpisode = errors.New("fidelity: episode does not fit the model")
	// ErrNoWindows: no episode is long enough for one window.
	ErrNoWindows = errors.New("fidelity: no evaluation windows")
	// ErrBadPrediction: the model returned observations of the wrong shape.
	ErrBadPrediction = errors.New("fidelity: malformed prediction")
)
