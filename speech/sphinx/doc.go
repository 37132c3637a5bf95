// Package sphinx is a native, pure-Go speech recogniser for CMU Sphinx
// acoustic models: the semi-continuous / phonetically-tied-mixture (ptm)
// models that pocketsphinx ships, such as en-us.
//
// The pipeline is the one pocketsphinx runs, written anew from the file
// formats and the maths:
//
//   - Model loads a model directory once (feat.params, the binary mdef,
//     means, variances, the quantised mixture weights in sendump,
//     transition_matrices, noisedict) plus a pronouncing dictionary, and
//     validates every file, so a wrong path, a truncated file or an
//     unsupported model type is a clear error at start-up, not a crash in a
//     call. A Model is read-only after loading and shared by all calls.
//   - FrontEnd turns 16 kHz samples into sphinx MFCC cepstra following the
//     model's feat.params, reusing dsp's FFT, DCT and lifter; Features adds
//     live cepstral mean normalisation initialised from -cmninit and the
//     1s_c_d_dd dynamic features.
//   - Scorer evaluates the tied Gaussian codebooks with top-N selection and
//     the senone scores a search asks for.
//   - Grammar compiles a phrase list, a small JSGF grammar or a keyword
//     list ("phrase /threshold/" lines) into a word graph; Decoder runs a
//     Viterbi beam search over it with a silence loop at every state and a
//     free phone loop beside it, so that speech outside the grammar is
//     rejected instead of forced onto the nearest phrase, and keyphrases are
//     spotted where they beat the phone loop by their threshold.
//   - Recognizer and Stream wrap it for calls: 20 ms frames of 8 kHz audio
//     in (upsampled to the model's 16 kHz at the door), partial hypotheses
//     while the caller speaks, a final result with a confidence and N-best
//     alternatives at the end.
//
// The package imports only dsp from the project.
package sphinx
