// waihu's browser softphone: SIP over WebSocket (RFC 7118) with JsSIP, media
// by the browser's WebRTC stack. Built into dist/phone.js by `npm run build`
// and served by `waihu serve --http ... --ws ...` at /phone.
import JsSIP from 'jssip';

const $ = (id) => document.getElementById(id);

// state is exposed as window.waihuPhone so tests and curious users can see
// what the phone is doing.
const state = { ua: null, session: null, status: 'idle', muted: false, events: [], stats, callId: '', transcript: [], socket: null };
window.waihuPhone = state;

function setStatus(s) {
  state.status = s;
  state.events.push(s);
  $('status').textContent = s;
}

// loadConfig asks the server where its SIP WebSocket listens; query
// parameters (?ws=&domain=&target=) win so the page works with any server.
async function loadConfig() {
  const q = new URLSearchParams(location.search);
  let cfg = {};
  try {
    const res = await fetch('config.json');
    if (res.ok) cfg = await res.json();
  } catch (e) {
    // Served from elsewhere: the fields keep their defaults.
  }
  $('ws').value = q.get('ws') || cfg.ws || `ws://${location.hostname}:5066`;
  $('domain').value = q.get('domain') || cfg.domain || location.hostname;
  $('target').value = q.get('target') || cfg.target || 'demo';
  $('user').value = q.get('user') || 'browser';
  $('token').value = sessionStorage.getItem(TOKEN_KEY) || '';
}

// The live transcript comes from the server's /ws/events, filtered to this
// call by its SIP Call-ID: JsSIP chooses the Call-ID of the INVITE it sends
// (the 'sending' event hands us the request before it goes out), and waihu
// names every event of an answered call by that same Call-ID. The socket
// needs an API token with events:read; it is kept in sessionStorage under
// the dashboard's key, so a tab logged in to the dashboard has it already.
const TOKEN_KEY = 'waihu.token';

function transcriptStatus(text) {
  $('transcript-status').textContent = text;
}

function connectTranscript() {
  const token = ($('token').value || '').trim();
  if (state.socket) {
    const old = state.socket;
    state.socket = null;
    old.close();
  }
  if (!token) {
    transcriptStatus('Enter an API token under Account to see the call\'s transcript live.');
    return Promise.resolve(false);
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const ws = new WebSocket(`${proto}//${location.host}/ws/events?access_token=${encodeURIComponent(token)}`);
  state.socket = ws;
  ws.onmessage = (m) => {
    let msg;
    try { msg = JSON.parse(m.data); } catch (_) { return; }
    if (msg.type === 'event' && msg.event && state.callId && msg.event.call_id === state.callId) onCallEvent(msg.event);
  };
  ws.onclose = () => {
    if (state.socket === ws) {
      state.socket = null;
      transcriptStatus('Live transcript disconnected (is the token valid?).');
    }
  };
  return new Promise((resolve) => {
    ws.onopen = () => { transcriptStatus('Live transcript connected.'); resolve(true); };
    ws.onerror = () => resolve(false);
  });
}

function onCallEvent(e) {
  let line = '';
  switch (e.kind) {
    case 'bot_said':
      // A barge-in repeats the prompt with only the words that were heard.
      line = e.interrupted ? `Bot (cut off by you): ${e.text || ''}` : `Bot: ${e.text || ''}`;
      break;
    case 'caller_said':
      if (e.partial) return;
      line = `You: ${e.text || ''}`;
      break;
    case 'intent': line = `(intent ${e.intent || ''})`; break;
    case 'dtmf': line = `(key ${e.digit || ''})`; break;
    case 'transferred': line = `(transferred to ${e.target || ''})`; break;
    case 'ended': line = `(call ended${e.outcome ? `: ${e.outcome}` : ''})`; break;
    default: return;
  }
  state.transcript.push({ kind: e.kind, text: e.text || '', intent: e.intent || '', outcome: e.outcome || '' });
  const li = document.createElement('li');
  li.dataset.kind = e.kind;
  li.textContent = line;
  $('transcript').appendChild(li);
  li.scrollIntoView({ block: 'nearest' });
}

function stopUA() {
  if (state.ua) state.ua.stop();
  state.ua = null;
}

// startUA connects (and registers, when asked) and resolves once the
// WebSocket is up.
function startUA() {
  stopUA();
  const user = $('user').value.trim() || 'browser';
  const domain = $('domain').value.trim();
  const config = {
    sockets: [new JsSIP.WebSocketInterface($('ws').value.trim())],
    uri: `sip:${user}@${domain}`,
    register: $('register').checked,
    // waihu cannot renegotiate WebRTC media mid-call, so no refreshing
    // re-INVITEs.
    session_timers: false,
    user_agent: 'waihu-phone',
  };
  if ($('password').value) config.password = $('password').value;
  const ua = new JsSIP.UA(config);
  state.ua = ua;
  ua.on('registered', () => setStatus('registered'));
  ua.on('unregistered', () => setStatus('unregistered'));
  ua.on('registrationFailed', (e) => setStatus(`registration failed: ${e.cause}`));
  ua.on('disconnected', () => { if (state.ua === ua) setStatus('disconnected'); });
  return new Promise((resolve, reject) => {
    ua.once('connected', () => { setStatus('connected'); resolve(ua); });
    ua.once('disconnected', () => reject(new Error('cannot reach ' + $('ws').value)));
    ua.start();
  });
}

function targetURI() {
  let t = $('target').value.trim();
  if (t.startsWith('sip:')) return t;
  if (!t.includes('@')) t = `${t}@${$('domain').value.trim()}`;
  return `sip:${t}`;
}

async function call() {
  if (state.session) return;
  try {
    if (!state.ua || !state.ua.isConnected()) await startUA();
  } catch (e) {
    setStatus(e.message);
    return;
  }
  setStatus('calling');
  // ?raw=1 turns off echo cancellation, noise suppression and gain control,
  // so what the server records is what the microphone took (tests, demos
  // with a headset).
  const raw = new URLSearchParams(location.search).get('raw') === '1';
  const audio = raw ? { echoCancellation: false, noiseSuppression: false, autoGainControl: false } : true;
  const session = state.ua.call(targetURI(), {
    mediaConstraints: { audio, video: false },
    pcConfig: { iceServers: [] },
    // Attached before the INVITE can go out: its Call-ID names the
    // server's events of this call.
    eventHandlers: {
      sending: (e) => {
        state.callId = e.request.call_id;
        state.transcript = [];
        $('transcript').replaceChildren();
      },
    },
  });
  state.session = session;
  session.on('peerconnection', (e) => {
    e.peerconnection.addEventListener('track', (ev) => playRemote(ev.streams[0] || new MediaStream([ev.track])));
  });
  session.on('progress', () => setStatus('ringing'));
  const up = () => {
    // The track event may have fired before JsSIP told us of the
    // connection: take the receivers' tracks as they are now.
    const pc = session.connection;
    if (pc && !$('remote').srcObject) {
      const tracks = pc.getReceivers().map((r) => r.track).filter((t) => t && t.kind === 'audio');
      if (tracks.length) playRemote(new MediaStream(tracks));
    }
    setStatus('in call');
  };
  session.on('accepted', up);
  session.on('confirmed', up);
  const end = (label) => (e) => {
    setStatus(`${label}: ${e.cause}`);
    state.session = null;
    state.muted = false;
    $('mute').textContent = 'Mute';
  };
  session.on('ended', end('ended'));
  session.on('failed', end('failed'));
}

function playRemote(stream) {
  const audio = $('remote');
  audio.srcObject = stream;
  audio.play().catch((e) => state.events.push(`audio: ${e.message}`));
}

function hangup() {
  if (state.session) state.session.terminate();
}

function toggleMute() {
  const s = state.session;
  if (!s) return;
  if (state.muted) s.unmute({ audio: true }); else s.mute({ audio: true });
  state.muted = !state.muted;
  $('mute').textContent = state.muted ? 'Unmute' : 'Mute';
}

// dtmf sends a key in the media (RFC 4733) when the call negotiated
// telephone-event, else as SIP INFO.
function dtmf(digit) {
  const s = state.session;
  if (s && s.isEstablished()) {
    const sender = s.connection && s.connection.getSenders().find((x) => x.dtmf);
    const transportType = sender && sender.dtmf.canInsertDTMF ? 'RFC2833' : 'INFO';
    s.sendDTMF(digit, { transportType });
    state.events.push(`dtmf ${digit} ${transportType}`);
  }
  $('digits').textContent += digit;
}

// stats reports what the browser sends and receives, from getStats.
async function stats() {
  const pc = state.session && state.session.connection;
  const out = { status: state.status };
  if (!pc) return out;
  const report = await pc.getStats();
  const codecs = {};
  report.forEach((r) => { if (r.type === 'codec') codecs[r.id] = r.mimeType; });
  report.forEach((r) => {
    if (r.type === 'inbound-rtp' && r.kind === 'audio') {
      out.packetsReceived = r.packetsReceived;
      out.totalAudioEnergy = r.totalAudioEnergy;
      out.inboundCodec = codecs[r.codecId];
    }
    // Built from the server's RTCP receiver and sender reports.
    if (r.type === 'remote-inbound-rtp' && r.kind === 'audio') {
      out.rtcpReceiverReports = r.roundTripTimeMeasurements || 0;
    }
    if (r.type === 'remote-outbound-rtp' && r.kind === 'audio') {
      out.rtcpSenderReports = r.reportsSent || 0;
    }
    if (r.type === 'outbound-rtp' && r.kind === 'audio') {
      out.packetsSent = r.packetsSent;
      out.outboundCodec = codecs[r.codecId];
    }
  });
  const audio = $('remote');
  out.audioPlaying = !!audio.srcObject && !audio.paused;
  return out;
}

function buildKeypad() {
  const pad = $('keypad');
  for (const d of '123456789*0#') {
    const b = document.createElement('button');
    b.textContent = d;
    b.dataset.digit = d;
    b.addEventListener('click', () => dtmf(d));
    pad.appendChild(b);
  }
}

window.addEventListener('DOMContentLoaded', () => {
  buildKeypad();
  $('call').addEventListener('click', call);
  $('hangup').addEventListener('click', hangup);
  $('mute').addEventListener('click', toggleMute);
  $('connect').addEventListener('click', () => startUA().catch((e) => setStatus(e.message)));
  $('token').addEventListener('change', connectTranscript);
  loadConfig().then(connectTranscript).then(() => setStatus('ready'));
});
