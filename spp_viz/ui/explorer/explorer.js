// The pyramid explorer: the photo with the bins, the feature map and the pooled levels, linked.
// A plain ES module (no build step). Streamlit calls the default export with the mount's data
// on every run; parts (photo, map, levels) are cached by id, so a run that sends only ids
// draws from the cache and a run with the same view redraws nothing.

const PARTS = new Map(); // part id -> part, for the life of the page
const INSTANCES = new WeakMap(); // parentElement -> explorer
let MOUNTS = 0; // explorers built on this page: a new one means the component was remounted
const VIRIDIS = ["#440154", "#482878", "#3e4989", "#31688e", "#26828e", "#1f9e89", "#35b779", "#6ece58", "#b5de2b", "#fde725"];
// Colours come with the data (data.style, data.colours): their one home is spp_viz.figures.style.

function lut() {
  const rgb = VIRIDIS.map((h) => [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16)));
  const out = new Uint8ClampedArray(256 * 3);
  for (let i = 0; i < 256; i++) {
    const t = (i / 255) * (rgb.length - 1), k = Math.min(rgb.length - 2, Math.floor(t)), f = t - k;
    for (let j = 0; j < 3; j++) out[i * 3 + j] = rgb[k][j] * (1 - f) + rgb[k + 1][j] * f;
  }
  return out;
}
const LUT = lut();

function colourOf(value, lo, hi) {
  const i = Math.max(0, Math.min(255, Math.round(((value - lo) / (hi - lo || 1)) * 255)));
  return `rgb(${LUT[i * 3]},${LUT[i * 3 + 1]},${LUT[i * 3 + 2]})`;
}

function fmt(v) {
  if (v === null || v === undefined) return "–";
  return Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(3) : String(+v.toPrecision(4));
}

function decodeMap(part) {
  if (part.floats) return part.floats;
  const bytes = Uint8Array.from(atob(part.values), (c) => c.charCodeAt(0));
  part.floats = new Float32Array(bytes.buffer);
  return part.floats;
}

const DIMMED = 0.25; // the SPP grid's opacity while SPPF's windows show

// The words around the numbers come with the data (data.words: spp_viz.ui.explorer.words, in the
// page's language), as templates with {name} placeholders; a missing word shows its key.
let WORDS = {};

export function t(key, vars = {}, words = WORDS) {
  const template = Object.hasOwn(words, key) ? words[key] : key;
  return template.replace(/\{(\w+)\}/g, (m, name) => (Object.hasOwn(vars, name) ? String(vars[name]) : m));
}
const VIEWS_GAP = 16; // px between the photo and the map: .views' gap in explorer.css
const RELEASE_FALLBACK_MS = 1000; // the phase-0 echo without a painted frame (a hidden tab)

function swatch(colour, dash) { // a short line in a mark's colour and dash, for the legend
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("width", "28"); svg.setAttribute("height", "10"); svg.setAttribute("aria-hidden", "true");
  const line = document.createElementNS(ns, "line");
  for (const [k, v] of Object.entries({ x1: 1, y1: 5, x2: 27, y2: 5, stroke: colour, "stroke-width": 2.5 })) line.setAttribute(k, String(v));
  if (dash && dash.length) line.setAttribute("stroke-dasharray", dash.join(" "));
  svg.appendChild(line);
  return svg;
}

function el(tag, attrs = {}, parent = null) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "text") node.textContent = v; else node.setAttribute(k, v);
  }
  if (parent) parent.appendChild(node);
  return node;
}

// Geometry ---------------------------------------------------------------------------------

function cellSpan(axis, i0, i1) { // cells [i0, i1) -> pixels through the stride, clipped
  return [Math.min(axis.length, Math.max(0, i0 * axis.jump)), Math.min(axis.length, Math.max(0, i1 * axis.jump))];
}

function rfSpan(axis, i0, i1) { // receptive field of cells [i0, i1), clipped to what is read
  const clip = (a) => Math.min(axis.read_end, Math.max(0, a));
  return [clip(axis.offset + i0 * axis.jump), clip(axis.offset + (i1 - 1) * axis.jump + axis.size)];
}

// The bin rule of spp_viz/bins.py, ported once (tests/browser/test_browser_levels.py checks both
// agree): a level's bins from the map's size alone, so a levels edit is drawn before the server answers.

function floorDiv(p, q) { return (p - (((p % q) + q) % q)) / q; } // Python's p // q, exact for integers

export function paperWindow(a, n) { // bins.paper_window: [window, stride, count]
  const window = Math.ceil(a / n), stride = floorDiv(a, n);
  return [window, stride, stride > 0 ? floorDiv(a - window, stride) + 1 : 0];
}

export function axisBins(a, n, rule) { // bins.axis_bins: [start, end) cell ranges along one axis
  if (!(a >= 1 && n >= 1)) throw new RangeError(`Axis length and bin count must be positive, got a=${a}, n=${n}.`);
  if (rule === "adaptive") return Array.from({ length: n }, (_, i) => [floorDiv(i * a, n), -floorDiv(-(i + 1) * a, n)]);
  const [window, stride, count] = paperWindow(a, n);
  return Array.from({ length: count }, (_, i) => [i * stride, i * stride + window]);
}

// A level's part as spp_viz.explorer.phase0_payload makes it (bins.pyramid_bins, bin_geometry,
// differing_bins), without values: axes are the payload's [rows (y), cols (x)].
export function levelPart(n, rule, axes, globalContext) {
  const [ys, xs] = axes;
  const rows = axisBins(ys.count, n, rule), cols = axisBins(xs.count, n, rule);
  const adaptive = rule === "adaptive" ? null : [axisBins(ys.count, n, "adaptive"), axisBins(xs.count, n, "adaptive")];
  const same = (a, b) => a !== undefined && a[0] === b[0] && a[1] === b[1];
  const bins = [];
  rows.forEach((r, i) => cols.forEach((c, j) => {
    const [x0, x1] = cellSpan(xs, c[0], c[1]), [y0, y1] = cellSpan(ys, r[0], r[1]);
    const [rx0, rx1] = globalContext ? [0, xs.length] : rfSpan(xs, c[0], c[1]);
    const [ry0, ry1] = globalContext ? [0, ys.length] : rfSpan(ys, r[0], r[1]);
    const differs = adaptive !== null && !(same(adaptive[0][i], r) && same(adaptive[1][j], c));
    bins.push({ row: i, col: j, index: i * cols.length + j, cells: [r[0], r[1], c[0], c[1]], box: [x0, y0, x1, y1],
      rf: [rx0, ry0, rx1, ry1], value: null, winner: null, winner_channel: null, differs });
  }));
  return { n, rows: rows.length, cols: cols.length, valid: rows.length === n && cols.length === n, bins };
}

// options.parse_levels, for the explorer's control: the presets and the largest level come with the
// data (payload.pyramid), so the browser accepts exactly what the sidebar accepts.
const PY_SPACE = "[\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]";
const STRIP = new RegExp(`^${PY_SPACE}+|${PY_SPACE}+$`, "g"); // Python's str.strip(): its whitespace, not JS's

export function parseLevels(text, pyramid, words = WORDS) {
  const stripped = text.replace(STRIP, ""), name = stripped.toLowerCase();
  if (Object.hasOwn(pyramid.presets, name)) return { levels: [...pyramid.presets[name]] };
  const range = t("levels_range", { max: pyramid.max_level }, words);
  if (!stripped) return { error: t("levels_empty", {}, words) };
  const levels = [];
  for (const part of stripped.split(",").map((p) => p.replace(STRIP, ""))) {
    if (!part) return { error: t("levels_empty_item", {}, words) };
    const shown = part.length > 12 ? `${part.slice(0, 12)}…` : part; // the message stays short
    if (!/^[0-9]+$/.test(part)) return { error: t("levels_not_level", { text: shown, range }, words) };
    levels.push(Number(part));
  }
  const out = levels.find((n) => n < 1 || n > pyramid.max_level);
  if (out !== undefined) return { error: t("levels_out_of_range", { n: out, range }, words) };
  if (new Set(levels).size !== levels.length) return { error: t("levels_twice", {}, words) };
  return { levels };
}

export function sppfWindows(row, col, k, n, rows, cols) { // the same as spp_viz.explorer.sppf_windows
  const out = [];
  for (let m = 1; m <= n; m++) {
    const half = Math.floor((m * (k - 1)) / 2);
    out.push([Math.max(0, row - half), Math.min(rows, row + half + 1), Math.max(0, col - half), Math.min(cols, col + half + 1)]);
  }
  return out;
}

function winnerText(b, style) {
  if (!b.winner) return t("no_winner");
  const where = { row: b.winner[0], col: b.winner[1], channel: b.winner_channel };
  return t(style.winner_of_strongest ? "winner_strongest" : "winner", where);
}

function binTip(level, b, style) {
  const [r0, r1, c0, c1] = b.cells;
  const [x0, y0, x1, y1] = b.box;
  const tip = t("bin_tip", { n: level.n, row: b.row, col: b.col, index: b.index, r0, r1: r1 - 1, c0, c1: c1 - 1,
    cells: (r1 - r0) * (c1 - c0), x0: Math.round(x0), x1: Math.round(x1), y0: Math.round(y0), y1: Math.round(y1),
    value: fmt(b.value), value_label: style.value_label, winner: winnerText(b, style) });
  return b.differs ? t("bin_tip_differs", { tip }) : tip;
}

// The explorer -----------------------------------------------------------------------------

// The user's view settings and a selection not yet echoed by the server outlive a remount of the
// component (a full rerun that moves it on the page mounts it afresh).
// So does a levels edit the server has not taken yet (levelsPending: its levels, "1,2,4"; levelsSeq: its number).
const SETTINGS = { mode: "spp", showRf: false, hidden: new Set(), pending: null, resent: 0, seq: 0, selected: null,
  levelsPending: null, levelsSeq: 0, levelsResent: 0, levelsSentAt: 0 };

// The sidebar's levels box (its key, ``state.KEY_LEVELS``, names its container ``st-key-levels``):
// an edit committed there (Enter, or leaving the box) is drawn in the explorer at once, greyed, as
// an edit of the explorer's own control is; Streamlit's rerun with the new levels brings the values.
// Nothing is sent from here: the box's own commit is the round trip.
let LIVE = null; // the explorer drawn last
function mirrorSidebarLevels(e) {
  const box = e.target instanceof HTMLInputElement ? e.target.closest(".st-key-levels") : null;
  if (!LIVE || !box || (e.type === "keydown" && e.key !== "Enter")) return;
  LIVE.mirrorLevels(e.target.value);
}
document.addEventListener("keydown", mirrorSidebarLevels, true);
document.addEventListener("change", mirrorSidebarLevels, true);

// Streamlit's own code files named in ``names``, preloaded once each (the front end imports them
// relative to its index script, so the same URL is asked for: the module map answers it)
function preloadModules(names) {
  const index = document.querySelector('script[type="module"][src*="/static/js/index."]');
  if (!index) return;
  for (const name of names) {
    const href = new URL(name, index.src).href;
    if (document.querySelector(`link[rel="modulepreload"][href="${href}"]`)) continue;
    const link = document.createElement("link");
    link.rel = "modulepreload";
    link.crossOrigin = "anonymous"; // as the index script: the same module map entry
    link.href = href;
    document.head.appendChild(link);
  }
}

class Explorer {
  get mode() { return SETTINGS.mode; }
  set mode(v) { SETTINGS.mode = v; }
  get showRf() { return SETTINGS.showRf; }
  set showRf(v) { SETTINGS.showRf = v; }
  get hidden() { return SETTINGS.hidden; }
  get pending() { return SETTINGS.pending; }
  set pending(v) { SETTINGS.pending = v; }
  get resent() { return SETTINGS.resent; }
  set resent(v) { SETTINGS.resent = v; }
  get seq() { return SETTINGS.seq; }
  set seq(v) { SETTINGS.seq = v; }
  get selected() { return SETTINGS.selected; }
  set selected(v) { SETTINGS.selected = v; }

  constructor(parent, setStateValue) {
    this.setStateValue = setStateValue;
    this.root = el("div", { class: "spp-explorer", "data-hovered": "", "data-selected": "", "data-highlighted": "",
      "data-server-updates": "0", "data-server-redraws": "0", "data-view": "", "data-levels": "", "data-mode": SETTINGS.mode,
      "data-full-runs": "0", "data-fragment-runs": "0", "data-differing": "0", "data-colours": "", "data-phase": "", "data-released": "",
      "data-mounts": String(++MOUNTS), "data-boxes": "", "data-levels-pending": SETTINGS.levelsPending || "",
      "data-client-redraws": "0", "data-levels-sent": "0", "data-levels-error": "" }, parent);
    this.latencies = [];
    this.editLatencies = []; // ms from each levels edit to the frame after its bins are drawn
    this.root.sppExplorer = this;
    this.hover = null;
    this.serverSelected = null; this.data = null; this.sendTimer = null;
    this.levelsEdit(el("div", { class: "edit" }, this.root));
    this.controls = el("div", { class: "controls" }, this.root);
    const views = el("div", { class: "views" }, this.root);
    this.photoView = this.view(views, "photo", t("photo_title"));
    this.mapView = this.view(views, "map", t("map_title"));
    this.pooledNote = el("div", { class: "pooled-note" }, this.root);
    this.pooledRow = el("div", { class: "pooled", "data-testid": "pooled-levels" }, this.root);
    this.tip = el("div", { class: "tip", role: "tooltip", hidden: "" }, this.root);
    this.live = el("div", { class: "live", "aria-live": "polite" }, this.root);
    this.pooledViews = new Map();
    new ResizeObserver(() => this.layout()).observe(this.root);
  }

  retitle() { // the words drawn before any data (the language may have changed since)
    this.levelsLabel.textContent = t("levels_label"); this.levelsHint.textContent = t("levels_hint");
  }

  view(parent, name, title) {
    const fig = el("figure", { class: `view ${name}`, "data-view": name }, parent);
    el("figcaption", { text: title }, fig);
    const canvas = el("canvas", { tabindex: "0", role: "img", "aria-label": title }, fig);
    const v = { name, fig, canvas, base: document.createElement("canvas"), scale: 1, w: 0, h: 0 };
    this.listen(v);
    return v;
  }

  listen(v) {
    v.canvas.addEventListener("pointermove", (e) => this.onPointer(v, e, false));
    v.canvas.addEventListener("pointerleave", (e) => this.setHover(null, e));
    v.canvas.addEventListener("click", (e) => this.onPointer(v, e, true));
    v.canvas.addEventListener("keydown", (e) => this.onKey(e));
  }

  // the levels control: an edit is drawn here at once, then sent ---------------------------------
  levelsEdit(parent) {
    const form = el("form", { class: "levels-edit", "data-control": "levels-form", novalidate: "" }, parent);
    this.levelsLabel = el("label", { for: "spp-levels", text: t("levels_label") }, form);
    this.levelsInput = el("input", { id: "spp-levels", type: "text", "data-control": "levels", autocomplete: "off",
      spellcheck: "false", "aria-describedby": "spp-levels-hint", "aria-invalid": "false", "aria-errormessage": "spp-levels-error" }, form);
    this.levelsInput.value = SETTINGS.levelsPending || "";
    this.levelsHint = el("span", { id: "spp-levels-hint", class: "hint", text: t("levels_hint") }, form);
    this.levelsError = el("span", { id: "spp-levels-error", class: "levels-error", role: "alert", hidden: "" }, form);
    const edit = (e) => { e.preventDefault(); this.editLevels(this.levelsInput.value, e); };
    this.levelsInput.addEventListener("keydown", (e) => { if (e.key === "Enter") edit(e); }); // timed from the key
    form.addEventListener("submit", edit);
    this.levelsInput.addEventListener("change", (e) => this.editLevels(this.levelsInput.value, e)); // on leaving the box
  }

  editLevels(text, e) {
    if (!this.data) return;
    const parsed = parseLevels(text, this.data.pyramid);
    this.levelsError.textContent = parsed.error || ""; this.levelsError.hidden = !parsed.error;
    this.levelsInput.setAttribute("aria-invalid", parsed.error ? "true" : "false");
    this.root.dataset.levelsError = parsed.error ? "1" : "";
    if (parsed.error) return; // one short message here, nothing sent
    const key = parsed.levels.join(",");
    if (key === (SETTINGS.levelsPending ?? this.serverLevels)) return; // nothing new
    this.drawClientLevels(parsed.levels);
    const start = e.timeStamp;
    requestAnimationFrame(() => { this.editLatencies.push(performance.now() - start); });
    SETTINGS.levelsSeq += 1; SETTINGS.levelsPending = key; SETTINGS.levelsResent = 0;
    this.sendLevels();
  }

  mirrorLevels(text) { // the sidebar's levels box committed ``text``: its bins drawn here at once
    if (!this.data) return;
    const parsed = parseLevels(text, this.data.pyramid);
    if (parsed.error) return; // the sidebar says why, after its run
    const key = parsed.levels.join(",");
    if (key === (this.mirrored ?? SETTINGS.levelsPending ?? this.serverLevels)) return; // nothing new
    this.mirrored = key; this.mirroredAt = this.data.runs ? this.data.runs.full : 0;
    this.drawClientLevels(parsed.levels);
  }

  // whether to hold this update: it comes from a run that started before the sidebar's edit and
  // draws other levels (the edit's own run, a later full run, follows)
  beforeMirror(data) {
    if (!this.mirrored) return false;
    const full = data.runs ? data.runs.full : 0;
    if (full <= this.mirroredAt && data.pyramid.levels.join(",") !== this.mirrored) return true;
    this.mirrored = null;
    return false;
  }

  drawClientLevels(levels) { // the new grid from the map's size (bins.py's rule), greyed until the values arrive
    const { rule, max_drawn: maxDrawn } = this.data.pyramid;
    this.levels = levels.filter((n) => n <= maxDrawn)
      .map((n) => ({ ...levelPart(n, rule, this.data.axes, this.data.global_context), client: true }));
    this.clientDrawn = true;
    this.root.dataset.clientRedraws = String(+this.root.dataset.clientRedraws + 1);
    this.root.dataset.levelsPending = levels.join(",");
    this.showLevels(); this.layout();
  }

  sendLevels() {
    SETTINGS.levelsSentAt = this.data.runs ? this.data.runs.full : 0;
    this.root.dataset.levelsSent = String(+this.root.dataset.levelsSent + 1);
    this.setTriggerValue("levels", { levels: SETTINGS.levelsPending.split(",").map(Number), seq: SETTINGS.levelsSeq });
  }

  // whether to hold this update: it predates the last levels edit (a full run that did not take the
  // edit, e.g. one under way when it was sent, has it sent again)
  stale(data) {
    if (!SETTINGS.levelsPending || (data.levels_seq ?? 0) >= SETTINGS.levelsSeq || SETTINGS.levelsResent >= 3) return false;
    if (data.runs && data.runs.full > SETTINGS.levelsSentAt) { SETTINGS.levelsResent += 1; this.sendLevels(); }
    return true;
  }

  takeLevels(data) { // the server's pyramid: the control shows it (unless it is what the control sent)
    SETTINGS.levelsPending = null; this.root.dataset.levelsPending = "";
    const text = data.pyramid.levels.join(",");
    if (text !== this.serverLevels) { this.serverLevels = text; this.levelsInput.value = text; }
  }

  // A cold server holds the forward until this phase 0 is painted (spp_viz.ui.phase0.hold_forward):
  // echo its token after the next frame; a hidden tab paints no frame, but its timers still run.
  // Then fetch Streamlit's code for the first page's charts (``prefetch``: file names beside its
  // index script) while the server imports torch, as module preloads: the page's import of it
  // finds it in the module map, and the page shows its elements without waiting for it.
  release(gate, prefetch) {
    const fire = () => {
      if (this.released === gate) return;
      this.released = gate;
      this.root.dataset.released = gate; // for tests: the echo was sent
      this.setTriggerValue("phase0_drawn", gate);
      preloadModules(prefetch || []);
    };
    requestAnimationFrame(() => setTimeout(fire, 0));
    setTimeout(fire, RELEASE_FALLBACK_MS);
  }

  // data from the server ---------------------------------------------------------------------
  update(data) {
    this.root.dataset.serverUpdates = String(+this.root.dataset.serverUpdates + 1);
    this.retitle();
    if (data.runs) { // the session's run counters, for tests: attributes, never words on the page
      this.root.dataset.fullRuns = String(data.runs.full);
      this.root.dataset.fragmentRuns = String(data.runs.fragment);
    }
    for (const [id, part] of Object.entries(data.parts || {})) PARTS.set(id, part);
    const missing = [data.photo, data.map, ...data.levels].filter((id) => !PARTS.has(id));
    if (missing.length) return missing;
    if (this.data && (this.stale(data) || this.beforeMirror(data))) return [];
    this.takeLevels(data);
    this.syncSelection(data.selected);
    if (this.data && this.data.view === data.view && !this.clientDrawn) { this.data = data; return []; }
    this.data = data; this.clientDrawn = false;
    this.photo = PARTS.get(data.photo); this.map = PARTS.get(data.map);
    this.levels = data.levels.map((id) => PARTS.get(id));
    this.root.dataset.serverRedraws = String(+this.root.dataset.serverRedraws + 1);
    this.root.dataset.view = data.view;
    // phase 0: the bins from arithmetic, greyed, no values yet; phase 1: the forward's values
    this.root.dataset.phase = String(data.phase ?? 1);
    this.showLevels();
    if (this.geometryOnly) this.root.dataset.phase0Boxes = this.root.dataset.boxes; // kept: phase 1 is checked against it
    this.pooledNote.textContent = t("pooled_note", { value_label: data.style.value_label });
    this.photoView.fig.firstChild.textContent = t("photo_caption", { width: this.photo.width, height: this.photo.height }) + (data.note || "");
    this.mapView.fig.firstChild.textContent = t("map_caption", { label: this.map.label, channels: this.map.channels, rows: this.map.rows,
      cols: this.map.cols }) + (this.map.block > 1 ? t("map_blocks", { block: this.map.block }) : "") + (data.note || "");
    if (!this.image || this.imageId !== data.photo) { // the same photo is decoded once
      this.image = new Image(); this.imageId = data.photo;
      this.image.onload = () => { this.drawBases(); this.draw(); };
      this.image.src = this.photo.src;
    }
    this.layout();
    return [];
  }

  showLevels() { // the drawn levels' attributes (tests read them), controls and pooled views
    this.root.dataset.levels = this.levels.map((l) => l.n).join(",");
    this.root.dataset.colours = this.levels.map((l) => `${l.n}:${this.colour(l)}`).join(",");
    this.root.dataset.boxes = JSON.stringify(this.levels.map((l) => [l.n, l.bins.map((b) => [b.cells, b.box, b.rf])]));
    this.buildControls(); this.buildPooled();
  }

  syncSelection(fromServer) { // the server's selection, unless it has not seen ours yet
    const sel = fromServer ? fromServer.join(",") : "";
    if (this.pending) {
      if (sel === this.pending.join(",")) { this.pending = null; this.resent = 0; }
      else if (this.resent < 3) { this.resent += 1; this.send(this.pending); } // a click lost in a full rerun
      this.serverSelected = sel;
      return;
    }
    if (sel !== this.serverSelected) { this.serverSelected = sel; this.selected = fromServer; }
  }

  send(sel) {
    this.seq += 1;
    this.setStateValue("selected", { bin: sel, seq: this.seq });
  }

  buildControls() {
    this.controls.replaceChildren();
    const levels = el("fieldset", { class: "levels" }, this.controls);
    el("legend", { text: t("levels_legend") }, levels);
    for (const lv of this.levels) {
      const label = el("label", { style: `color:${this.colour(lv)}` }, levels);
      const box = el("input", { type: "checkbox", "data-level": String(lv.n) }, label);
      box.checked = !this.hidden.has(lv.n);
      box.addEventListener("change", (e) => this.toggleLevel(lv.n, box.checked, e));
      label.append(` ${t("level_toggle", { n: lv.n })}`);
    }
    const rf = el("label", { class: "rf" }, this.controls);
    const rfBox = el("input", { type: "checkbox", "data-control": "rf" }, rf);
    rfBox.checked = this.showRf;
    rfBox.addEventListener("change", (e) => { this.showRf = rfBox.checked; this.drawBases(); this.draw(e); });
    rf.append(` ${t("rf_toggle")}`);
    const mode = el("fieldset", { class: "mode" }, this.controls);
    el("legend", { text: t("mode_legend") }, mode);
    for (const [value, text] of [["spp", t("mode_spp")], ["sppf", t("mode_sppf", { k: this.data.sppf_k, n: this.data.sppf_n })]]) {
      const label = el("label", {}, mode);
      const radio = el("input", { type: "radio", name: "spp-mode", value, "data-control": `mode-${value}` }, label);
      radio.checked = this.mode === value;
      radio.addEventListener("change", (e) => { if (radio.checked) this.setMode(value, e); });
      label.append(` ${text}`);
    }
    this.legend = el("div", { class: "legend", "data-testid": "explorer-legend" }, this.controls);
    this.buildLegend();
  }

  // what the marks mean: the paper rule's differing bins, and SPPF's windows while they show
  buildLegend() {
    this.legend.replaceChildren();
    const style = this.style;
    const differing = this.levels.some((lv) => lv.bins.some((b) => b.differs));
    if (differing) {
      const item = el("span", { class: "item", "data-legend": "differ" }, this.legend);
      item.append(swatch(style.differ, [5, 3]), ` ${t("legend_differ")}`);
    }
    if (this.mode !== "sppf") return;
    const title = el("span", { class: "item title" }, this.legend);
    title.textContent = t("legend_windows");
    for (const w of this.data.sppf_windows) {
      const item = el("span", { class: "item", "data-legend": `window-${w.cells}` }, this.legend);
      item.append(swatch(style.window, w.dash), ` ${t("legend_window", { formula: w.formula, cells: w.cells, pixels: w.pixels, rf: w.rf_pixels })}`);
    }
  }

  buildPooled() {
    this.pooledRow.replaceChildren();
    this.pooledViews.clear();
    for (const lv of this.levels) {
      const fig = el("figure", { class: "view pooled-level", "data-key": `pooled_${lv.n}`, "data-level": String(lv.n) }, this.pooledRow);
      el("figcaption", { text: t("pooled_caption", { n: lv.n, rows: lv.rows, cols: lv.cols }) + (lv.valid ? "" : t("not_n_by_n")),
        style: `color:${this.colour(lv)}` }, fig);
      const canvas = el("canvas", { tabindex: "0", role: "img", "aria-label": t("pooled_aria", { n: lv.n }) }, fig);
      const v = { name: "pooled", level: lv, fig, canvas, base: document.createElement("canvas"), scale: 1, w: 0, h: 0 };
      this.listen(v);
      this.pooledViews.set(lv.n, v);
      fig.hidden = this.hidden.has(lv.n);
    }
  }

  // sizes and base layers ------------------------------------------------------------------------
  layout() {
    if (!this.data) return;
    const width = this.root.clientWidth || 800;
    const half = Math.max(160, Math.floor((width - VIEWS_GAP) / 2) - 1); // photo and map side by side
    this.size(this.photoView, half, this.photo.width, this.photo.height);
    this.size(this.mapView, half, this.map.width || this.map.cols, this.map.height || this.map.rows);
    const shown = this.levels.filter((l) => !this.hidden.has(l.n)).length || 1;
    const each = Math.max(90, Math.min(260, Math.floor(width / Math.min(4, shown)) - 14));
    for (const v of this.pooledViews.values()) this.size(v, each, v.level.cols || 1, v.level.rows || 1);
    this.drawBases(); this.draw();
  }

  size(v, cssWidth, w, h) {
    const ratio = window.devicePixelRatio || 1;
    const cssHeight = Math.max(40, Math.round((cssWidth * h) / w));
    v.scale = cssWidth / w; v.w = w; v.h = h;
    for (const c of [v.canvas, v.base]) { c.width = Math.round(cssWidth * ratio); c.height = Math.round(cssHeight * ratio); }
    v.canvas.style.width = `${cssWidth}px`; v.canvas.style.height = `${cssHeight}px`;
    v.fig.style.width = `${cssWidth}px`; // a long caption wraps instead of widening the view (and pushing the map down)
    v.ratio = ratio;
  }

  ctx(v, canvas) {
    const g = canvas.getContext("2d");
    g.setTransform(v.ratio * v.scale, 0, 0, v.ratio * v.scale, 0, 0);
    return g;
  }

  shownLevels() { return this.levels.filter((l) => !this.hidden.has(l.n)); }

  get geometryOnly() { return this.data.phase === 0; } // phase 0: no values yet

  colour(lv) { return this.geometryOnly || lv.client ? this.style.pending : this.data.colours[String(lv.n)]; }

  get style() { return this.data.style; }

  drawBases() {
    if (!this.data) return;
    this.drawPhotoBase(); this.drawMapBase();
    for (const v of this.pooledViews.values()) this.drawPooledBase(v);
  }

  drawPhotoBase() {
    const v = this.photoView, g = this.ctx(v, v.base);
    g.clearRect(0, 0, v.w, v.h);
    if (this.image && this.image.complete && this.image.naturalWidth) g.drawImage(this.image, 0, 0, v.w, v.h);
    const px = 1 / v.scale;
    g.globalAlpha = this.mode === "sppf" ? DIMMED : 1; // SPPF's windows show over a dimmed grid
    let differing = 0;
    this.shownLevels().forEach((lv, rank) => {
      const m = (1.5 + 2.5 * rank) * px;
      g.strokeStyle = this.colour(lv); g.lineWidth = 2 * px;
      for (const b of lv.bins) g.strokeRect(b.box[0] + m, b.box[1] + m, b.box[2] - b.box[0] - 2 * m, b.box[3] - b.box[1] - 2 * m);
    });
    g.setLineDash([5 * px, 3 * px]); g.strokeStyle = this.style.differ; g.lineWidth = 2 * px;
    this.shownLevels().forEach((lv, rank) => { // the paper rule's bins that differ from the adaptive ones: dashed
      const m = (1.5 + 2.5 * rank) * px;
      for (const b of lv.bins) if (b.differs) {
        differing += 1;
        g.strokeRect(b.box[0] + m, b.box[1] + m, b.box[2] - b.box[0] - 2 * m, b.box[3] - b.box[1] - 2 * m);
      }
    });
    g.setLineDash([]); g.globalAlpha = 1;
    this.root.dataset.differing = String(differing);
  }

  drawMapBase() {
    const v = this.mapView, m = this.map;
    const g = v.base.getContext("2d");
    if (!m.values) { // phase 0: the map's size is known, its values are not
      g.setTransform(1, 0, 0, 1, 0, 0);
      g.fillStyle = "#2a2a2a"; g.fillRect(0, 0, v.base.width, v.base.height);
      return;
    }
    const z = decodeMap(m);
    const img = new ImageData(m.width, m.height);
    for (let i = 0; i < z.length; i++) {
      const t = Math.max(0, Math.min(255, Math.round(((z[i] - m.lo) / (m.hi - m.lo || 1)) * 255)));
      img.data.set([LUT[t * 3], LUT[t * 3 + 1], LUT[t * 3 + 2], 255], i * 4);
    }
    const tmp = document.createElement("canvas");
    tmp.width = m.width; tmp.height = m.height;
    tmp.getContext("2d").putImageData(img, 0, 0);
    g.setTransform(1, 0, 0, 1, 0, 0);
    g.imageSmoothingEnabled = false;
    g.drawImage(tmp, 0, 0, v.base.width, v.base.height);
    const c = this.ctx(v, v.base), px = 1 / v.scale, f = m.block;
    c.globalAlpha = this.mode === "sppf" ? DIMMED : 1;
    this.shownLevels().forEach((lv, rank) => {
      c.fillStyle = this.colour(lv); c.strokeStyle = "#111"; c.lineWidth = px;
      const s = Math.max(0.25, 0.45 - 0.08 * rank);
      for (const b of lv.bins) if (b.winner) {
        c.beginPath(); c.arc((b.winner[1] + 0.5) / f, (b.winner[0] + 0.5) / f, s, 0, 2 * Math.PI); c.fill(); c.stroke();
      }
    });
    c.globalAlpha = 1;
  }

  drawPooledBase(v) {
    const lv = v.level, g = this.ctx(v, v.base);
    const values = this.levels.flatMap((l) => l.bins.map((b) => b.value)).filter((x) => x !== null);
    const lo = values.length ? Math.min(...values) : 0, hi = values.length ? Math.max(...values) : 1;
    g.clearRect(0, 0, v.w, v.h);
    g.font = `${Math.min(Math.max(0.18, 0.32 - 0.01 * lv.cols), 20 / v.scale)}px sans-serif`; g.textAlign = "center"; g.textBaseline = "middle";
    for (const b of lv.bins) {
      g.fillStyle = b.value === null ? "#333" : colourOf(b.value, lo, hi);
      g.fillRect(b.col, b.row, 1, 1);
      if (lv.rows <= 8 && lv.cols <= 8 && b.value !== null) {
        g.fillStyle = (b.value - lo) / (hi - lo || 1) > 0.6 ? "#111" : "#eee";
        g.fillText(b.value.toFixed(2), b.col + 0.5, b.row + 0.5);
      }
    }
  }

  // hover, selection, keyboard ---------------------------------------------------------------
  hit(v, e) { // pointer -> {level, bin} or {cell}
    const r = v.canvas.getBoundingClientRect();
    const x = (e.clientX - r.left) / v.scale, y = (e.clientY - r.top) / v.scale;
    if (v.name === "pooled") {
      const b = v.level.bins.find((q) => q.row === Math.floor(y) && q.col === Math.floor(x));
      return b ? { level: v.level, bin: b } : null;
    }
    const [ys, xs] = this.data.axes;
    const cell = v.name === "map" ? [Math.floor(y) * this.map.block, Math.floor(x) * this.map.block]
      : [Math.floor(y / ys.jump), Math.floor(x / xs.jump)];
    if (cell[0] < 0 || cell[1] < 0 || cell[0] >= this.map.rows || cell[1] >= this.map.cols) return null;
    if (v.name === "photo" && this.mode === "spp") {
      const lv = this.currentLevel();
      const b = lv && lv.bins.find((q) => x >= q.box[0] && x < q.box[2] && y >= q.box[1] && y < q.box[3]);
      return b ? { level: lv, bin: b, cell } : { cell };
    }
    const lv = this.currentLevel();
    const b = lv && this.binsOf(lv, cell)[0];
    return { cell, level: b ? lv : null, bin: b || null, fromMap: true };
  }

  binsOf(lv, cell) {
    return lv.bins.filter((b) => cell[0] >= b.cells[0] && cell[0] < b.cells[1] && cell[1] >= b.cells[2] && cell[1] < b.cells[3]);
  }

  currentLevel() {
    const shown = this.shownLevels();
    const n = this.selected ? this.selected[0] : null;
    return shown.find((l) => l.n === n) || shown[shown.length - 1] || null;
  }

  onPointer(v, e, click) {
    const h = this.hit(v, e);
    if (click && h && h.bin) this.select([h.level.n, h.bin.row, h.bin.col], e, true);
    else this.setHover(h, e);
  }

  setHover(h, e) {
    this.hover = h;
    this.draw(e);
    if (!h) { this.tip.hidden = true; return; }
    const text = this.tipText(h);
    this.tip.textContent = text; this.tip.hidden = !text;
    const r = this.root.getBoundingClientRect();
    this.tip.style.left = `${Math.min(e.clientX - r.left + 14, r.width - 300)}px`;
    this.tip.style.top = `${e.clientY - r.top + 14}px`;
  }

  tipText(h) {
    if (this.mode === "sppf" && h.cell) {
      const ws = sppfWindows(h.cell[0], h.cell[1], this.data.sppf_k, this.data.sppf_n, this.map.rows, this.map.cols);
      const windows = ws.map((w, i) => t("tip_sppf_window", { cells: this.data.sppf_windows[i].cells, r0: w[0], r1: w[1] - 1,
        c0: w[2], c1: w[3] - 1 })).join("; ");
      return t("tip_sppf", { row: h.cell[0], col: h.cell[1], windows });
    }
    if (h.fromMap) {
      const bins = this.shownLevels().flatMap((lv) => this.binsOf(lv, h.cell).map((b) => `L${lv.n} (${b.row}, ${b.col})`));
      const z = decodeMap(this.map)[Math.floor(h.cell[0] / this.map.block) * this.map.width + Math.floor(h.cell[1] / this.map.block)];
      return t("tip_cell", { row: h.cell[0], col: h.cell[1], value: fmt(z), bins: bins.join(", ") || t("no_drawn_bin") });
    }
    return h.bin ? binTip(h.level, h.bin, this.style) : "";
  }

  select(sel, e, now) {
    this.selected = sel;
    this.draw(e);
    const lv = this.levels.find((l) => l.n === sel[0]);
    const b = lv && lv.bins.find((q) => q.row === sel[1] && q.col === sel[2]);
    if (b) this.live.textContent = binTip(lv, b, this.style);
    clearTimeout(this.sendTimer);
    this.pending = sel; this.resent = 0;
    if (now) this.send(sel); else this.sendTimer = setTimeout(() => this.send(sel), 250);
  }

  onKey(e) {
    const shown = this.shownLevels();
    if (!shown.length) return;
    let lv = this.currentLevel();
    let [r, c] = this.selected && this.selected[0] === lv.n ? this.selected.slice(1) : [0, 0];
    const moves = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] };
    if (moves[e.key]) {
      r = Math.max(0, Math.min(lv.rows - 1, r + moves[e.key][0]));
      c = Math.max(0, Math.min(lv.cols - 1, c + moves[e.key][1]));
    } else if (e.key === "[" || e.key === "]") {
      const i = shown.indexOf(lv) + (e.key === "]" ? 1 : -1);
      if (i < 0 || i >= shown.length) return;
      const next = shown[i];
      r = Math.min(next.rows - 1, Math.floor(((r + 0.5) * next.rows) / lv.rows));
      c = Math.min(next.cols - 1, Math.floor(((c + 0.5) * next.cols) / lv.cols));
      lv = next;
    } else return;
    e.preventDefault();
    this.select([lv.n, r, c], e, false);
  }

  toggleLevel(n, on, e) {
    if (on) this.hidden.delete(n); else this.hidden.add(n);
    const v = this.pooledViews.get(n);
    if (v) v.fig.hidden = !on;
    this.drawBases(); this.draw(e);
  }

  setMode(mode, e) {
    this.mode = mode; this.root.dataset.mode = mode; this.hover = null;
    this.buildLegend(); this.drawBases(); this.draw(e);
  }

  // the overlay ----------------------------------------------------------------------------------
  lit() { // what is highlighted: [{level, bin, why}] and SPPF windows
    const out = [];
    const h = this.hover;
    if (h && this.mode === "spp") {
      if (h.fromMap) for (const lv of this.shownLevels()) for (const b of this.binsOf(lv, h.cell)) out.push({ level: lv, bin: b, why: "hover" });
      else if (h.bin) out.push({ level: h.level, bin: h.bin, why: "hover" });
    }
    if (this.selected) {
      const lv = this.shownLevels().find((l) => l.n === this.selected[0]);
      const b = lv && lv.bins.find((q) => q.row === this.selected[1] && q.col === this.selected[2]);
      if (b) out.push({ level: lv, bin: b, why: "selected" });
    }
    return out;
  }

  draw(e) {
    if (!this.data) return;
    const lit = this.lit();
    const windows = this.mode === "sppf" && this.hover && this.hover.cell
      ? sppfWindows(this.hover.cell[0], this.hover.cell[1], this.data.sppf_k, this.data.sppf_n, this.map.rows, this.map.cols) : [];
    this.drawPhoto(lit, windows); this.drawMap(lit, windows);
    for (const v of this.pooledViews.values()) this.drawPooled(v, lit);
    this.report(lit, windows);
    if (e && e.timeStamp) {
      const start = e.timeStamp;
      requestAnimationFrame(() => { this.latencies.push(performance.now() - start); });
    }
  }

  box(g, v, x0, y0, x1, y1, colour, width, dash = []) {
    const px = 1 / v.scale;
    g.setLineDash(dash.map((d) => d * px));
    g.strokeStyle = "#000"; g.lineWidth = (width + 3) * px; g.strokeRect(x0, y0, x1 - x0, y1 - y0);
    g.strokeStyle = colour; g.lineWidth = width * px; g.strokeRect(x0, y0, x1 - x0, y1 - y0);
    g.setLineDash([]);
  }

  blit(v) {
    const g = v.canvas.getContext("2d");
    g.setTransform(1, 0, 0, 1, 0, 0);
    g.clearRect(0, 0, v.canvas.width, v.canvas.height);
    g.drawImage(v.base, 0, 0);
    return this.ctx(v, v.canvas);
  }

  drawPhoto(lit, windows) {
    const v = this.photoView, g = this.blit(v);
    for (const { level, bin, why } of lit) {
      const [x0, y0, x1, y1] = bin.box;
      if (why === "hover") { g.fillStyle = "rgba(255,255,255,0.22)"; g.fillRect(x0, y0, x1 - x0, y1 - y0); }
      g.globalAlpha = this.mode === "sppf" ? DIMMED : 1;
      this.box(g, v, x0, y0, x1, y1, why === "selected" ? this.style.selected : this.colour(level), why === "selected" ? 4 : 3);
      if (this.showRf) this.box(g, v, bin.rf[0], bin.rf[1], bin.rf[2], bin.rf[3], this.style.rf, 2, [4, 3]);
      g.globalAlpha = 1;
    }
    const [ys, xs] = this.data.axes;
    windows.forEach((w, i) => {
      const [x0, x1] = cellSpan(xs, w[2], w[3]), [y0, y1] = cellSpan(ys, w[0], w[1]);
      const dash = this.data.sppf_windows[i].dash;
      this.box(g, v, x0, y0, x1, y1, this.style.window, 2.5, dash);
      if (this.showRf) {
        const [rx0, rx1] = this.data.global_context ? [0, xs.length] : rfSpan(xs, w[2], w[3]);
        const [ry0, ry1] = this.data.global_context ? [0, ys.length] : rfSpan(ys, w[0], w[1]);
        this.box(g, v, rx0, ry0, rx1, ry1, this.style.rf, 1.5, [4, 3]);
      }
    });
  }

  drawMap(lit, windows) {
    const v = this.mapView, g = this.blit(v), f = this.map.block;
    for (const { level, bin, why } of lit) {
      const [r0, r1, c0, c1] = bin.cells;
      g.globalAlpha = this.mode === "sppf" ? DIMMED : 1;
      this.box(g, v, c0 / f, r0 / f, c1 / f, r1 / f, why === "selected" ? this.style.selected : this.colour(level), why === "selected" ? 4 : 3);
      g.globalAlpha = 1;
    }
    if (this.hover && this.hover.cell && this.hover.fromMap) {
      const [r, c] = this.hover.cell;
      this.box(g, v, c / f, r / f, (c + 1) / f, (r + 1) / f, this.style.selected, 1.5);
    }
    windows.forEach((w, i) => this.box(g, v, w[2] / f, w[0] / f, w[3] / f, w[1] / f, this.style.window, 2.5, this.data.sppf_windows[i].dash));
  }

  drawPooled(v, lit) {
    const g = this.blit(v);
    for (const { level, bin, why } of lit) {
      if (level.n !== v.level.n) continue;
      this.box(g, v, bin.col + 0.04, bin.row + 0.04, bin.col + 0.96, bin.row + 0.96, why === "selected" ? this.style.selected : this.colour(level), why === "selected" ? 4 : 3);
    }
  }

  report(lit, windows) { // the state as attributes: tests and assistive tools read these
    const key = (x) => `${x.level.n},${x.bin.row},${x.bin.col}`;
    const hovered = lit.filter((x) => x.why === "hover");
    const h = this.hover;
    const main = h && h.bin && h.level ? `${h.level.n},${h.bin.row},${h.bin.col}` : "";
    this.root.dataset.hovered = this.mode === "spp" ? main : "";
    this.root.dataset.hoveredCell = h && h.cell ? h.cell.join(",") : "";
    this.root.dataset.selected = this.selected ? this.selected.join(",") : "";
    this.root.dataset.highlighted = hovered.flatMap((x) => ["photo", "map", "pooled"].map((w) => `${w}:${key(x)}`)).join(" ");
    this.root.dataset.sppfWindows = windows.map((w) => w.join(",")).join(" ");
    this.root.dataset.hidden = [...this.hidden].join(",");
    this.root.dataset.rf = this.showRf ? "1" : "";
    const label = h ? this.tipText(h) : "";
    const sel = lit.find((x) => x.why === "selected");
    const detail = label || t("selected", { bin: sel ? binTip(sel.level, sel.bin, this.style) : t("no_selection") });
    this.photoView.canvas.setAttribute("aria-label", t("aria_photo", { detail }));
    this.mapView.canvas.setAttribute("aria-label", t("aria_map", { label: this.map.label, detail }));
    for (const v of this.pooledViews.values()) {
      v.canvas.setAttribute("aria-label", t("aria_pooled", { n: v.level.n, detail }));
    }
  }
}

export default function (component) {
  const { parentElement, setStateValue, setTriggerValue } = component;
  // the payload travels as one JSON string (spp_viz.ui.explorer.PAYLOAD)
  const data = component.data && component.data.payload ? JSON.parse(component.data.payload) : null;
  if (data && data.words) WORDS = data.words; // before anything is built: the words of this run's language
  let explorer = INSTANCES.get(parentElement);
  if (!explorer) {
    explorer = new Explorer(parentElement, setStateValue);
    INSTANCES.set(parentElement, explorer);
  }
  explorer.setStateValue = setStateValue;
  LIVE = explorer;
  explorer.setTriggerValue = setTriggerValue; // the levels edit is a trigger
  if (!data) return undefined;
  const missing = explorer.update(data);
  if (missing.length) setTriggerValue("missing", missing);
  else if (data.gate) explorer.release(data.gate, data.prefetch);
  return undefined;
}
