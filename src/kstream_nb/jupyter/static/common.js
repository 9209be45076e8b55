// Shared by every kstream_nb widget module (prepended to each one by widgets.py).
const KS_CSS = `
.ks { font-family: var(--jp-ui-font-family, sans-serif); font-size: 12px; color: var(--jp-ui-font-color1, #222); }
.ks h4 { margin: 6px 0 4px; font-size: 13px; }
.ks table { border-collapse: collapse; margin: 2px 0 8px; }
.ks th, .ks td { padding: 2px 8px; text-align: left; border-bottom: 1px solid var(--jp-border-color2, #e5e5e5); }
.ks th { font-weight: 600; }
.ks code { font-family: var(--jp-code-font-family, monospace); }
.ks .brokers { display: flex; gap: 8px; flex-wrap: wrap; margin-bottom: 6px; }
.ks .broker { border-radius: 6px; padding: 6px 10px; min-width: 76px; color: #fff; transition: background-color .6s; }
.ks .broker.up { background: #2e7d32; }
.ks .broker.down { background: #c62828; }
.ks .broker.fenced { background: #6d4c41; }
.ks .broker.isolated { background: #ef6c00; }
.ks .broker .role { font-size: 10px; opacity: .9; }
.ks tr.under-replicated { background: #fff3e0; }
.ks tr.offline { background: #ffebee; }
.ks .chip { display: inline-block; border-radius: 3px; padding: 0 4px; margin-right: 2px; background: #eceff1; color: #555; }
.ks .chip.isr { background: #c8e6c9; color: #1b5e20; }
.ks .chip.leader { font-weight: 700; outline: 1px solid #1b5e20; }
.ks .changed { animation: ks-flash 1.2s ease-out; }
@keyframes ks-flash { from { background: #ffe082; } to { background: transparent; } }
.ks .muted { color: #888; }
.ks .bar { display: inline-block; height: 8px; background: #1e88e5; vertical-align: middle; }
.ks .stopped { color: #c62828; font-weight: 600; }
.ks .gen { text-align: center; }
.ks .pause { background: repeating-linear-gradient(45deg, #eee, #eee 4px, #fff 4px, #fff 8px); color: #777; text-align: center; }
.ks pre { margin: 0; white-space: pre-wrap; max-height: 8em; overflow: auto; }
`;

function ksEsc(value) {
  if (value === null || value === undefined) return "";
  return String(value).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

function ksRoot(el, className) {
  el.innerHTML = "";
  const style = document.createElement("style");
  style.textContent = KS_CSS;
  const root = document.createElement("div");
  root.className = `ks ${className}`;
  el.append(style, root);
  return root;
}

// Re-render on any of `names` changing; returns the cleanup anywidget calls on unmount.
function ksBind(model, names, draw) {
  const handler = () => draw();
  for (const name of names) model.on(`change:${name}`, handler);
  draw();
  return () => { for (const name of names) model.off(`change:${name}`, handler); };
}

const KS_MEMBER_COLORS = ["#1e88e5", "#43a047", "#fb8c00", "#8e24aa", "#e53935", "#00897b", "#6d4c41", "#3949ab"];
