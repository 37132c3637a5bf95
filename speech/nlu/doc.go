// Package nlu understands what a called person says: an intent classifier
// trained at start-up from example utterances, and slot extraction for
// numbers, money, dates and times, phone numbers and yes/no, in Chinese and
// English.
//
// The classifier is multinomial logistic regression with L2 regularisation,
// fitted with L-BFGS on sparse features that need no word segmentation:
// character uni-, bi- and trigrams for Chinese, and lower-cased word uni- and
// bigrams plus in-word character trigrams (which absorb typos and ASR
// misspellings) for English. Its probabilities are calibrated by temperature
// scaling fitted on held-out folds of the training data, so a confidence of
// 0.8 means right about four times in five. Utterances that fit no intent go
// to OutOfScope, both because the model learns an out-of-scope class from a
// built-in set of unrelated sentences and because a top probability under
// Config.Threshold is rejected.
//
// A Classifier is built once per script (New or NewFromYAML) and is then safe
// for concurrent use by any number of calls; Understand allocates only its
// result and a few small buffers.
package nlu
