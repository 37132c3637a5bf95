package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/waihu/waihu/campaign"
	"github.com/waihu/waihu/dialog"
	"github.com/waihu/waihu/rtp"
	httpapi "github.com/waihu/waihu/server"
	"github.com/waihu/waihu/sip"
	"github.com/waihu/waihu/store"
)

func init() { register(campaignCommand) }

// campaignFlags are the flags every campaign subcommand shares: where the store is.
type campaignFlags struct {
	flagOverrides
}

func (f *campaignFlags) bind(cmd *cobra.Command) {
	f.flagOverrides.bind(cmd)
	cmd.Flags().StringVar(&f.dsn, "dsn", "", "PostgreSQL DSN of a store shared by several nodes (default: store.dsn of the config, else SQLite in the data directory)")
}

// open loads the config and opens the same store the server uses.
func (f *campaignFlags) open(ctx context.Context) (Config, store.Store, error) {
	cfg, err := f.load()
	if err != nil {
		return cfg, nil, err
	}
	st, err := store.Open(ctx, store.Config{DataDir: cfg.Data, DSN: cfg.Store.DSN})
	return cfg, st, err
}

func campaignCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "campaign",
		Short: "Create, fill, run and watch outbound campaigns (docs/campaigns.md)",
	}
	cmd.AddCommand(campaignCreateCommand(), campaignImportCommand(), campaignStartCommand(),
		campaignStateCommand("pause", "Pause a campaign: calls in progress finish, no one new is dialled", store.CampaignPaused),
		campaignStateCommand("resume", "Resume a paused campaign", store.CampaignRunning),
		campaignStateCommand("stop", "Stop a campaign for good: calls in progress finish", store.CampaignStopped),
		campaignStatusCommand(), campaignRequeueCommand(), campaignDNCCommand())
	return cmd
}

// withStore runs fn with the store open and closes it after.
func withStore(cmd *cobra.Command, f *campaignFlags, fn func(ctx context.Context, cfg Config, st store.Store) error) error {
	ctx := cmd.Context()
	cfg, st, err := f.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	return fn(ctx, cfg, st)
}

func campaignCreateCommand() *cobra.Command {
	var (
		f                   campaignFlags
		settingsFile, tz    string
		trunks              []string
		cps                 float64
		concurrency, maxTry int
	)
	cmd := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a campaign from a settings file and flags",
		Long: `Create a campaign in the draft state. Settings come from a JSON file (--settings;
see docs/campaigns.md for every key) and the flags override it. At least one trunk
is needed to start: --trunk NAME[:CPS[:CONCURRENCY]], repeatable.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var settings campaign.Settings
			if settingsFile != "" {
				b, err := os.ReadFile(settingsFile)
				if err != nil {
					return fmt.Errorf("--settings: %w", err)
				}
				if settings, err = campaign.ParseSettings(b); err != nil {
					return fmt.Errorf("%s: %w", settingsFile, err)
				}
			}
			for _, t := range trunks {
				tl, err := parseTrunkFlag(t)
				if err != nil {
					return err
				}
				settings.Trunks = append(settings.Trunks, tl)
			}
			if cps > 0 {
				settings.CPS = cps
			}
			if concurrency > 0 {
				settings.Concurrency = concurrency
			}
			if maxTry > 0 {
				settings.Retry.MaxAttempts = maxTry
			}
			if tz != "" {
				settings.TimeZone = tz
			}
			return withStore(cmd, &f, func(ctx context.Context, _ Config, st store.Store) error {
				c, err := campaign.Create(ctx, st, args[0], settings)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "campaign %q created (id %d)\n", c.Name, c.ID)
				return nil
			})
		},
	}
	f.bind(cmd)
	cmd.Flags().StringVar(&settingsFile, "settings", "", "campaign settings JSON file")
	cmd.Flags().StringArrayVar(&trunks, "trunk", nil, "trunk to dial through, NAME[:CPS[:CONCURRENCY]] (repeatable)")
	cmd.Flags().Float64Var(&cps, "cps", 0, "campaign call attempts per second (default 1)")
	cmd.Flags().IntVar(&concurrency, "concurrency", 0, "most calls of the campaign at once (default 10)")
	cmd.Flags().IntVar(&maxTry, "max-attempts", 0, "most calls to one contact (default 3)")
	cmd.Flags().StringVar(&tz, "time-zone", "", "time zone of contacts that have none (default Asia/Shanghai)")
	return cmd
}

func parseTrunkFlag(s string) (campaign.TrunkLimit, error) {
	parts := strings.Split(s, ":")
	tl := campaign.TrunkLimit{Name: parts[0]}
	var err error
	if tl.Name == "" || len(parts) > 3 {
		return tl, fmt.Errorf("--trunk %q: want NAME[:CPS[:CONCURRENCY]]", s)
	}
	if len(parts) > 1 {
		if tl.CPS, err = strconv.ParseFloat(parts[1], 64); err != nil || tl.CPS <= 0 {
			return tl, fmt.Errorf("--trunk %q: CPS %q is not a positive number", s, parts[1])
		}
	}
	if len(parts) > 2 {
		if tl.Concurrency, err = strconv.Atoi(parts[2]); err != nil || tl.Concurrency <= 0 {
			return tl, fmt.Errorf("--trunk %q: concurrency %q is not a positive whole number", s, parts[2])
		}
	}
	return tl, nil
}

func campaignImportCommand() *cobra.Command {
	var f campaignFlags
	cmd := &cobra.Command{
		Use:   "import NAME FILE.csv",
		Short: "Add contacts from a CSV file (header row: phone, name, timezone, priority, tags, …)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			file, err := os.Open(args[1])
			if err != nil {
				return err
			}
			defer file.Close()
			contacts, err := campaign.ImportCSV(file, args[1])
			if err != nil {
				return err
			}
			return withStore(cmd, &f, func(ctx context.Context, _ Config, st store.Store) error {
				c, err := st.CampaignByName(ctx, args[0])
				if err != nil {
					return err
				}
				added, dup, err := campaign.Import(ctx, st, c.ID, contacts)
				if err != nil {
					return fmt.Errorf("import %s: %w", args[1], err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%d contacts added to %q, %d already there\n", added, c.Name, dup)
				p, err := campaign.PreviewCampaign(ctx, st, c.ID, time.Now())
				if err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), p)
				return nil
			})
		},
	}
	f.bind(cmd)
	return cmd
}

func campaignStateCommand(name, short string, to store.CampaignState) *cobra.Command {
	var f campaignFlags
	cmd := &cobra.Command{
		Use:   name + " NAME",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withStore(cmd, &f, func(ctx context.Context, _ Config, st store.Store) error {
				c, err := st.CampaignByName(ctx, args[0])
				if err != nil {
					return err
				}
				if to == store.CampaignRunning && c.State != store.CampaignPaused {
					return fmt.Errorf("campaign %q is %s: resume only a paused one (start runs it)", c.Name, c.State)
				}
				if err := campaign.SetState(ctx, st, c.ID, to); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "campaign %q is %s\n", c.Name, to)
				return nil
			})
		},
	}
	f.bind(cmd)
	return cmd
}

func campaignStatusCommand() *cobra.Command {
	var f campaignFlags
	cmd := &cobra.Command{
		Use:   "status [NAME]",
		Short: "Show a campaign's progress and what a start would skip (all campaigns without NAME)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withStore(cmd, &f, func(ctx context.Context, _ Config, st store.Store) error {
				var list []store.Campaign
				if len(args) == 1 {
					c, err := st.CampaignByName(ctx, args[0])
					if err != nil {
						return err
					}
					list = []store.Campaign{c}
				} else {
					var err error
					if list, err = st.Campaigns(ctx); err != nil {
						return err
					}
				}
				for _, c := range list {
					line, err := progressLine(ctx, st, c.ID, nil)
					if err != nil {
						return err
					}
					fmt.Fprintln(cmd.OutOrStdout(), line)
					if len(args) == 1 {
						p, err := campaign.PreviewCampaign(ctx, st, c.ID, time.Now())
						if err != nil {
							return err
						}
						fmt.Fprintln(cmd.OutOrStdout(), p)
					}
				}
				return nil
			})
		},
	}
	f.bind(cmd)
	return cmd
}

func campaignRequeueCommand() *cobra.Command {
	var (
		f     campaignFlags
		state string
	)
	cmd := &cobra.Command{
		Use:   "requeue NAME",
		Short: "Dial again the contacts in one state (default interrupted: they may have been called)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withStore(cmd, &f, func(ctx context.Context, _ Config, st store.Store) error {
				c, err := st.CampaignByName(ctx, args[0])
				if err != nil {
					return err
				}
				n, err := campaign.Requeue(ctx, st, c.ID, store.ContactState(state))
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%d %s contacts of %q are pending again\n", n, state, c.Name)
				return nil
			})
		},
	}
	f.bind(cmd)
	cmd.Flags().StringVar(&state, "state", string(store.StateInterrupted), "contact state to requeue: interrupted or exhausted")
	return cmd
}

func campaignDNCCommand() *cobra.Command {
	var (
		f      campaignFlags
		name   string
		reason string
		remove bool
	)
	cmd := &cobra.Command{
		Use:   "dnc PHONE...",
		Short: "Put numbers on the do-not-call list (global, or one campaign's with --campaign)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withStore(cmd, &f, func(ctx context.Context, _ Config, st store.Store) error {
				var id int64
				if name != "" {
					c, err := st.CampaignByName(ctx, name)
					if err != nil {
						return err
					}
					id = c.ID
				}
				for _, a := range args {
					p, err := campaign.NormalizePhone(a)
					if err != nil {
						return err
					}
					if remove {
						err = st.RemoveDNC(ctx, p, id)
					} else {
						err = st.AddDNC(ctx, store.DNCEntry{Phone: p, CampaignID: id, Reason: reason})
					}
					if err != nil {
						return err
					}
				}
				verb := "added to"
				if remove {
					verb = "removed from"
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%d numbers %s the do-not-call list\n", len(args), verb)
				return nil
			})
		},
	}
	f.bind(cmd)
	cmd.Flags().StringVar(&name, "campaign", "", "suppress for this campaign only")
	cmd.Flags().StringVar(&reason, "reason", "operator", "why (kept with the entry)")
	cmd.Flags().BoolVar(&remove, "remove", false, "take the numbers off the list instead")
	return cmd
}

// progressLine is one line of a campaign's state: what is finished, dialling,
// queued and pending. r is the local Runner, when one runs.
func progressLine(ctx context.Context, st store.Store, id int64, r *campaign.Runner) (string, error) {
	c, err := st.Campaign(ctx, id)
	if err != nil {
		return "", err
	}
	n, err := st.CountContacts(ctx, id)
	if err != nil {
		return "", err
	}
	total := 0
	for _, v := range n {
		total += v
	}
	finished := n[store.StateDone] + n[store.StateExhausted] + n[store.StateSkipped] + n[store.StateInterrupted]
	line := fmt.Sprintf("campaign %q %s: %d/%d finished (done %d, exhausted %d, skipped %d, interrupted %d), %d dialling, %d pending",
		c.Name, c.State, finished, total, n[store.StateDone], n[store.StateExhausted], n[store.StateSkipped],
		n[store.StateInterrupted], n[store.StateDialing], n[store.StatePending])
	if r != nil {
		s := r.Stats()
		line += fmt.Sprintf(", %d in calls, %d queued, %d calls placed", s.InFlight, s.QueueDepth(), s.Dialled)
	}
	return line, nil
}

func campaignStartCommand() *cobra.Command {
	var (
		f              campaignFlags
		node, prompt   string
		listen         string
		maxCall, every time.Duration
		useBot         bool
	)
	cmd := &cobra.Command{
		Use:   "start NAME",
		Short: "Run a campaign in this process until it completes, is stopped, or Ctrl-C",
		Long: `Set the campaign running and dial it from this process: each answered call hears
the --prompt WAV (default: the embedded greeting) and is hung up, or with --bot talks
with the config's bot script (bot: in the config file; the contact's name, tags and
custom fields are its variables) and its outcome recycles the contact. The trunks
the campaign names must be in the config file. Progress is printed every --progress.
Starting a campaign that is already running is how a node picks it up again after
a crash: its claims are recovered first (docs/campaigns.md, "Crash recovery").`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			cfg, st, err := f.open(ctx)
			if err != nil {
				return err
			}
			defer st.Close()
			if listen != "" {
				cfg.SIP.Listen = listen
			} else if cfg.SIP.Listen == defaultConfig().SIP.Listen {
				cfg.SIP.Listen = "0.0.0.0:0" // not to collide with a server on 5060
			}
			c, err := st.CampaignByName(ctx, args[0])
			if err != nil {
				return err
			}
			if err := campaign.SetState(ctx, st, c.ID, store.CampaignRunning); err != nil {
				return err
			}
			pcm, err := loadPrompt(prompt)
			if err != nil {
				return fmt.Errorf("--prompt: %w", err)
			}
			log := newLogger(os.Stderr, cfg.Log)
			var b *bot
			if useBot {
				if b, err = newBot(ctx, cfg, log); err != nil {
					return fmt.Errorf("--bot: %w", err)
				}
			}
			d := &sipDialer{bot: b, prompt: pcm, maxCall: maxCall, log: log}
			return runCampaign(ctx, cfg, st, c.ID, node, d, every, cmd.OutOrStdout())
		},
	}
	f.bind(cmd)
	cmd.Flags().StringVar(&node, "node", "", "this node's name in claims; keep it across restarts (default: host name)")
	cmd.Flags().StringVar(&prompt, "prompt", "", "WAV file played to each answered call (default: embedded greeting)")
	cmd.Flags().StringVar(&listen, "listen", "", "local SIP address (default: any free port)")
	cmd.Flags().DurationVar(&maxCall, "max-call", 2*time.Minute, "hang up an answered call after this long")
	cmd.Flags().DurationVar(&every, "progress", 2*time.Second, "how often to print the progress line")
	cmd.Flags().BoolVar(&useBot, "bot", false, "run the config's bot script on answered calls instead of the prompt")
	return cmd
}

// runCampaign starts SIP and media for d and runs the campaign until it ends,
// printing the progress line every every.
func runCampaign(ctx context.Context, cfg Config, st store.Store, id int64, node string, d *sipDialer,
	every time.Duration, out io.Writer) error {
	log := d.log
	engine, ua, stop, err := startDialling(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer stop()
	d.ua, d.engine = ua, engine
	if d.progress == nil {
		d.progress = newCallProgress(cfg, d.bot, log)
	}
	r, err := newCampaignRunner(ctx, st, id, node, d, nil, log)
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			if line, perr := progressLine(context.WithoutCancel(ctx), st, id, r); perr == nil {
				fmt.Fprintln(out, line)
			}
			if errors.Is(err, context.Canceled) {
				return nil // Ctrl-C: claims were released or finished
			}
			return err
		case <-tick.C:
			if line, err := progressLine(ctx, st, id, r); err == nil {
				fmt.Fprintln(out, line)
			}
		}
	}
}

// newCampaignRunner is the one way waihu builds a campaign's Runner, for
// `waihu campaign start` and for the campaigns `waihu serve` dials. trunks
// is the node's shared trunk limits (nil: this campaign's alone).
func newCampaignRunner(ctx context.Context, st store.Store, id int64, node string, d *sipDialer,
	trunks *campaign.Trunks, log *slog.Logger) (*campaign.Runner, error) {
	return campaign.NewRunner(ctx, campaign.Config{Store: st, Dialer: d, CampaignID: id, Node: node, Trunks: trunks, Logger: log})
}

// sipDialer is campaign.Dialer on the SIP UA: one RTP leg per call and, once
// answered, the bot's script or else the prompt, then BYE. `waihu serve`
// also places single calls through it (Place), so campaign calls and API
// calls share one path, one event stream and one live-call list.
type sipDialer struct {
	ua      *sip.UA
	engine  *rtp.Engine
	bot     *bot // nil: play prompt
	prompt  []int16
	maxCall time.Duration
	log     *slog.Logger

	// events receives every call's dialing, ringing, answered and ended
	// and the bot's events; nil: none.
	events dialog.EventSink
	// live lists the calls in progress for the API; nil: not listed.
	live *liveCalls
	// metrics counts SIP results and RTP quality; nil: not counted.
	metrics *metricsFeed
	// recDir, when set, records each answered call's far end there as
	// CALL-ID.wav, as inbound calls are; vault, when set, encrypts them.
	recDir string
	vault  *recordingVault
	// progress classifies early media and reads carrier announcements;
	// nil: early media is not listened to.
	progress *callProgress
}

// Dial implements campaign.Dialer.
func (d *sipDialer) Dial(ctx context.Context, req campaign.DialRequest) campaign.Result {
	return d.dial(ctx, req, sip.NewCallID(), d.bot, "")
}

// dial places one call with Call-ID id and runs b (nil: the prompt) on it
// once answered. script names b for the live list.
func (d *sipDialer) dial(ctx context.Context, req campaign.DialRequest, id string, b *bot, script string) campaign.Result {
	ev := callEvents{sink: d.events, callID: id, campaignID: req.CampaignID, contactID: req.Contact.ID, phone: req.Contact.Phone}
	// Hanging a call up from the API cancels this context: CANCEL while it
	// rings, the script's end and a BYE once answered.
	ctx, hangup := context.WithCancel(ctx)
	defer hangup()
	if b != nil && script == "" {
		script = b.script.Name
	}
	d.live.add(httpapi.CallInfo{ID: id, CampaignID: req.CampaignID, ContactID: req.Contact.ID, Phone: req.Contact.Phone,
		Trunk: req.Trunk, Script: script}, hangup)
	defer d.live.remove(id)
	res := d.call(ctx, req, id, b, ev)
	ev.emit(dialog.EventEnded, func(e *dialog.Event) {
		// The ended event names the most telling result: the script's
		// outcome, else what the early media said, else the disposition.
		e.Outcome = res.Outcome
		if e.Outcome == "" {
			e.Outcome = res.CallProgress
		}
		if e.Outcome == "" {
			e.Outcome = string(res.Disposition)
		}
		e.AnsweredBy, e.Code = res.AnsweredBy, res.SIPCode
		if res.Err != nil {
			e.Reason = res.Err.Error()
		}
	})
	return res
}

func (d *sipDialer) call(ctx context.Context, req campaign.DialRequest, id string, b *bot, ev callEvents) campaign.Result {
	leg, err := d.engine.NewLeg(id)
	if err != nil {
		return campaign.Result{Disposition: campaign.Failed, SIPCallID: id, Err: fmt.Errorf("new RTP leg: %w", err)}
	}
	defer leg.Close()
	res := campaign.Result{SIPCallID: id}
	var rang sync.Once
	// The early media of a 183 is classified until Dial returns: a carrier
	// announcement that the number is vacant or out of service cancels the
	// dial (dialCtx) rather than letting it ring out (progress.go).
	dialCtx, cancelDial := context.WithCancel(ctx)
	defer cancelDial()
	early := d.progress.watch(leg, req.Trunk, id, cancelDial, d.log.With("call_id", id, "contact_id", req.Contact.ID))
	dr := sip.DialRequest{Trunk: req.Trunk, To: req.Contact.Phone, Media: leg, RingTimeout: req.RingTimeout, CallID: id,
		OnProgress: func(p sip.Progress) {
			rang.Do(func() {
				d.live.setState(id, "ringing")
				ev.emit(dialog.EventRinging, func(e *dialog.Event) { e.Code = p.Code })
			})
			if p.EarlyMedia {
				early.start()
			}
			if req.Ringing != nil {
				req.Ringing()
			}
		}}
	if req.CallerID != "" {
		dr.CallerID = &sip.CallerID{User: req.CallerID}
	}
	ev.emit(dialog.EventDialing, nil)
	call, err := d.ua.Dial(dialCtx, dr)
	heard := early.finish(err == nil)
	res.CallProgress = heard.Progress
	if err != nil {
		var ce *sip.CallError
		if !errors.As(err, &ce) {
			d.metrics.dialed(req.Trunk, 0)
			return campaign.Result{Disposition: campaign.Failed, SIPCallID: id, Err: err, CallProgress: heard.Progress}
		}
		d.metrics.dialed(req.Trunk, ce.Code)
		res.SIPCode, res.Err = ce.Code, err
		res.Disposition = dispositionOf(ce.Kind)
		// res.CallProgress (issue 7) says what the early media said, e.g.
		// out_of_service; Outcome is the script's and stays empty for a
		// call no one answered.
		if heard.Cancelled && ctx.Err() == nil {
			// We cancelled on the carrier's word: the number is invalid, not
			// a call to retry.
			res.Disposition = campaign.Invalid
			res.Err = fmt.Errorf("dial cancelled on a carrier announcement (%s, heard %q): %w", heard.Progress, heard.Heard, err)
		}
		return res
	}
	d.metrics.dialed(req.Trunk, 200)
	res.Disposition, res.SIPCode = campaign.Answered, 200
	res.AnsweredAt, res.AnsweredBy, res.Outcome = time.Now(), "unknown", "completed"
	d.live.setState(id, "answered")
	ev.emit(dialog.EventAnswered, nil)
	callCtx, cancel := context.WithTimeout(ctx, d.maxCall)
	defer cancel()
	go func() {
		select {
		case <-call.Done():
			cancel()
		case <-callCtx.Done():
		}
	}()
	log := d.log.With("call_id", call.ID(), "contact_id", req.Contact.ID)
	rec := openRecording(d.recDir, id, log)
	defer finishRecording(rec, d.recDir, id, d.vault, log)
	if b != nil {
		digits := dialog.DigitsFrom(callCtx, leg.DTMF(), func(ev rtp.DTMFEvent) (rune, time.Time) { return ev.Digit, ev.At })
		// campaign (issue 7): the greeting's time for the abandon cap, and the
		// dialler's variant as the script's ${variant}.
		greet := &greetWatch{next: ev}
		vars := contactVariables(req.Contact)
		if req.Variant != "" {
			vars["variant"] = req.Variant
		}
		// The engine runs the dialler's variant (Variant), and the script's
		// transfer and message nodes work as on inbound calls: through the
		// trunk this call went out on.
		xfer := newTransfer(d.ua, d.engine, call, nil, log)
		transfers := &transferWatch{transfer: xfer} // the record's transfer fields (issue 7)
		dc := dialog.Call{ID: call.ID(), Leg: recordingLeg{Leg: leg, rec: rec}, DTMF: digits, Variables: vars, Events: greet,
			Variant: req.Variant, Transfer: transfers, Messages: xfer}
		customer := dc.Leg
		// Answering-machine detection runs from answer while the bot talks,
		// so scripts can branch on amd: machine (voicemail) or human.
		amd, err := newCues(true)
		if err != nil {
			log.Warn("no AMD for this call", "err", err)
		} else {
			dc.Cues = amd
		}
		rec, err := b.engine.Run(callCtx, dc)
		if err != nil && !errors.Is(err, context.Canceled) {
			log.Warn("script ended with an error", "err", err)
		}
		res.Outcome, res.Variant = rec.Outcome, rec.Variant
		res.GreetedAt, res.Tags, res.Turns = greet.greetedAt(), rec.Tags, len(rec.Turns) // campaign (issue 7)
		transfers.fill(&res)
		d.metrics.turns(rec.Turns)
		if amd != nil {
			res.AnsweredBy = amd.answeredBy()
		}
		// The whole record, not its transcript alone: its turns, path and
		// outcome are what first-response latency, transfer success and
		// abandon are measured from (server/kpi, docs/kpis.md).
		if b, err := json.Marshal(rec); err == nil {
			res.Transcript = b
		}
		if rec.Outcome == "voicemail" && !strings.HasPrefix(res.AnsweredBy, "machine") {
			res.AnsweredBy = "machine"
		}
		// A bridge to an agent outlives the script: the call stays ours until
		// the customer, the agent or the API hangs up, or the call's time
		// (max-call, as inbound.max_duration bounds an inbound bridge) ends.
		xfer.relay(callCtx, customer)
	} else {
		res.GreetedAt = time.Now() // campaign (issue 7): the prompt starts at once
		playRecord(callCtx, log, leg, d.prompt, rec, cancel)
	}
	select {
	case <-call.Done():
		if b == nil {
			// The prompt has no outcome of its own; a script's (transferred,
			// its hangup node's, or its own hung_up) is kept.
			res.Outcome = "hung_up"
		}
	default:
		hctx, hcancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		if err := call.Hangup(hctx); err != nil {
			log.Warn("hangup", "err", err)
		}
		hcancel()
	}
	res.EndedAt = time.Now()
	d.metrics.leg(leg.Stats())
	return res
}

// contactVariables are a contact's values for the script's ${name}: name, phone,
// tags (comma-separated) and every custom field of its import.
func contactVariables(k store.Contact) map[string]string {
	v := map[string]string{"phone": k.Phone, "caller": k.Phone}
	if k.Name != "" {
		v["name"] = k.Name
	}
	if len(k.Tags) > 0 {
		v["tags"] = strings.Join(k.Tags, ",")
	}
	for key, val := range k.Custom {
		v[key] = fmt.Sprint(val)
	}
	return v
}

// dispositionOf maps SIP's failure kinds onto the campaign's retry classes.
func dispositionOf(k sip.FailureKind) campaign.Disposition {
	switch k {
	case sip.FailureBusy:
		return campaign.Busy
	case sip.FailureNoAnswer:
		return campaign.NoAnswer
	case sip.FailureNotFound:
		return campaign.Invalid
	case sip.FailureCancelled:
		return campaign.Cancelled
	default:
		return campaign.Failed
	}
}
