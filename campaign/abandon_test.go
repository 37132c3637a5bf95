package campaign

import (
	"math"
	"testing"
	"time"

	"github.com/waihu/waihu/store"
)

// answeredCall is a person-answered call greeted greetAfter after the answer
// (negative: never greeted).
func answeredCall(by string, greetAfter time.Duration) Result {
	r := Result{Disposition: Answered, SIPCode: 200, AnsweredBy: by, AnsweredAt: at}
	if greetAfter >= 0 {
		r.GreetedAt = at.Add(greetAfter)
	}
	return r
}

func TestAbandonedCountsOnlyCallsAPersonAnswered(t *testing.T) {
	c := AbandonCap{}.withDefaults()
	for _, tc := range []struct {
		name               string
		res                Result
		counted, abandoned bool
	}{
		{"greeted within 2 s", answeredCall("human", 1900*time.Millisecond), true, false},
		{"greeted at exactly 2 s", answeredCall("human", 2*time.Second), true, false},
		{"greeted late", answeredCall("human", 2100*time.Millisecond), true, true},
		{"never greeted", answeredCall("human", -1), true, true},
		{"unclassified answer counts as a person", answeredCall("unknown", 3*time.Second), true, true},
		{"an answering machine does not count", answeredCall("machine_end_beep", 5*time.Second), false, false},
		{"a fax does not count", answeredCall("fax", -1), false, false},
		{"an unanswered call does not count", Result{Disposition: NoAnswer, SIPCode: 487}, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			counted, abandoned := c.Abandoned(tc.res)
			if counted != tc.counted || abandoned != tc.abandoned {
				t.Fatalf("Abandoned = %v, %v; want %v, %v", counted, abandoned, tc.counted, tc.abandoned)
			}
		})
	}
}

// feed observes n calls at now, every k-th of them abandoned (k 0: none).
func feed(th *Throttle, now time.Time, n, k int) {
	for i := 1; i <= n; i++ {
		greet := time.Second
		if k > 0 && i%k == 0 {
			greet = 3 * time.Second
		}
		th.Observe(now, answeredCall("human", greet))
	}
}

func TestThrottleControlLoop(t *testing.T) {
	cfg := AbandonCap{Cap: 0.03, Window: Duration(10 * time.Minute), MinCalls: 20, Decrease: 0.5, MinFactor: 0.2,
		Cooldown: Duration(time.Minute), RecoverStep: 0.1, RecoverEvery: Duration(time.Minute)}
	type step struct {
		after      time.Duration // since the start
		calls, k   int           // calls observed then, every k-th abandoned
		wantFactor float64
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"under the cap it runs at full speed", []step{
			{0, 40, 40, 1}, // 2.5 %
			{5 * time.Minute, 0, 0, 1},
		}},
		{"too few calls to trust the share", []step{
			{0, 10, 2, 1}, // 50 % of 10 calls
		}},
		{"over the cap it cuts at once", []step{
			{0, 20, 10, 0.5}, // 10 %
		}},
		{"no second cut within the cooldown", []step{
			{0, 20, 10, 0.5},
			{30 * time.Second, 5, 1, 0.5},
		}},
		{"a fresh abandon after the cooldown cuts again, down to the floor", []step{
			{0, 20, 10, 0.5},
			{70 * time.Second, 1, 1, 0.25},
			{140 * time.Second, 1, 1, 0.2},
			{210 * time.Second, 1, 1, 0.2},
		}},
		{"over the cap without new abandons it holds", []step{
			{0, 20, 10, 0.5},
			{5 * time.Minute, 0, 0, 0.5},
		}},
		{"back under the cap it recovers a step a minute", []step{
			{0, 20, 10, 0.5},
			{10*time.Minute + time.Second, 0, 0, 0.5}, // the window forgets: calm from now
			{11*time.Minute + 2*time.Second, 0, 0, 0.6},
			{13*time.Minute + 2*time.Second, 0, 0, 0.8},
			{20 * time.Minute, 0, 0, 1},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			th := NewThrottle(cfg)
			for i, s := range tc.steps {
				now := at.Add(s.after)
				feed(th, now, s.calls, s.k)
				if got := th.Factor(now); math.Abs(got-s.wantFactor) > 1e-9 {
					share, n := th.Rate(now)
					t.Fatalf("step %d (+%v): factor %g, want %g (share %.3f of %d)", i, s.after, got, s.wantFactor, share, n)
				}
			}
		})
	}
}

func TestThrottleDisabledNeverSlows(t *testing.T) {
	th := NewThrottle(AbandonCap{Disabled: true})
	feed(th, at, 100, 1)
	if f := th.Factor(at); f != 1 {
		t.Fatalf("disabled cap: factor %g", f)
	}
}

func TestRunnerSlowsWhenCallsAreAbandoned(t *testing.T) {
	const cps = 10.0
	for _, tc := range []struct {
		name       string
		greetAfter time.Duration
		slowed     bool
	}{
		{"greeted in time: full speed", 100 * time.Millisecond, false},
		{"greeted late: slowed", 3 * time.Second, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := openStore(t)
			settings := Settings{Windows: always, CPS: cps, Concurrency: 4, Trunks: []TrunkLimit{{Name: "t", CPS: cps, Concurrency: 4}},
				Abandon: AbandonCap{MinCalls: 5, Cooldown: Duration(time.Hour), MinFactor: 0.25, Decrease: 0.25}}
			c := setup(t, st, settings, phones(20))
			d := &fakeDialer{behave: func(string, int) Result {
				now := time.Now()
				return Result{Disposition: Answered, SIPCode: 200, AnsweredBy: "human", AnsweredAt: now, GreetedAt: now.Add(tc.greetAfter)}
			}}
			r := run(t, Config{Store: st, Dialer: d, CampaignID: c.ID}, 30*time.Second)
			calls := d.calls()
			// The last 10 calls: at full speed 1/CPS apart; slowed to a
			// quarter, 4/CPS apart.
			span := calls[len(calls)-1].at.Sub(calls[len(calls)-11].at)
			mean := span / 10
			slow := mean > time.Duration(3*float64(time.Second)/cps)
			if slow != tc.slowed {
				t.Fatalf("mean gap of the last calls %v (full speed %v): slowed %v, want %v", mean,
					time.Duration(float64(time.Second)/cps), slow, tc.slowed)
			}
			if s := r.Stats(); tc.slowed && (s.Throttle != 0.25 || s.AbandonRate != 1) {
				t.Fatalf("stats: throttle %g, abandon rate %g", s.Throttle, s.AbandonRate)
			}
			recs, _ := st.CallRecords(t.Context(), c.ID, 0)
			if len(recs) != 20 || recs[0].AnsweredBy != "human" {
				t.Fatalf("%d records, first answered_by %q", len(recs), recs[0].AnsweredBy)
			}
			if n, _ := st.CountContacts(t.Context(), c.ID); n[store.StateDone] != 20 {
				t.Fatalf("contacts %v, want 20 done", n)
			}
		})
	}
}
