package edge

// InputError marks a failure caused by the user's input rather than the
// machine: a model file that is missing, truncated or not ONNX, a video that
// cannot be opened. Commands map it to exit 2.
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }
