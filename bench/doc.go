// Package bench measures how many concurrent calls a node carries within a
// quality limit, and how long the speech pipeline takes to answer.
//
// A channels step places N full-duplex G.711 calls between a waihu caller and
// a waihu answerer on loopback (or a SIP target such as sipp), runs the dsp
// chain (VAD, energy, pitch, MFCC) on every received frame, and measures each
// leg's packets through an rtp.Observer: the interval between a leg's sends
// (the pacer's tick as the socket saw it), the interval between arrivals on
// the receiving leg, and frames arriving more than 40 ms after their
// schedule. A ramp repeats steps with more calls until the limit breaks.
//
// The measurement is built to cost the system under test little: per-packet
// work is a mutex, a clock read and an increment in a fixed log-scale
// histogram; nothing allocates or logs per packet. The same Meter runs in
// the diago peer (bench/diagopeer, its own module), so both stacks are
// measured by the same code.
package bench
