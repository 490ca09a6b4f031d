// The launch page's console: the applet with keys from the launch session (see
// controller-server/src/web/launch.rs). The session secret sits in the page, never in a URL;
// it is sent only in an Authorization header, so no cookie is needed inside a portal's frame.
import init, { LanternConsole } from "/web-console.js";

await init({ module_or_path: "/web-console_bg.wasm" });
const secret = document.querySelector('meta[name="lantern-launch"]').content;

async function fetchKey() {
  const r = await fetch("/api/launch-session/console-key", { method: "POST", headers: { Authorization: `Launch ${secret}` } });
  const body = await r.json();
  if (!r.ok) throw new Error(body.error || `console key refused (${r.status})`);
  return { url: `wss://${location.host}${body.ws_path}`, keyId: body.key_id, pms: body.pms, suites: body.suites, controllerKey: body.controller_key };
}

const show = (id, text) => { document.getElementById(id).textContent = text; };
const console = new LanternConsole(document.getElementById("console-canvas"), {
  keyProvider: fetchKey,
  onStatus: (s) => {
    show("status-state", s.state);
    show("status-suite", s.suite || "");
    show("status-message", s.message);
    document.getElementById("status-state").className = `state ${s.state}`;
    // Others may watch the same host; one viewer at a time has its keyboard and mouse.
    const holder = s.viewers.find((v) => v.id === s.holder);
    const mayControl = document.body.dataset.control === "true";
    show("sharing-holder", s.holder === null || s.holder === s.you ? "" : `${holder ? holder.name : "another viewer"} has the keyboard and mouse`);
    document.getElementById("btn-request-control").hidden = !mayControl || s.holder === null || s.holder === s.you;
  },
});
document.getElementById("btn-request-control").addEventListener("click", () => console.requestControl());
window.lanternConsole = console;
document.getElementById("btn-cad").addEventListener("click", () => console.ctrlAltDel());
try {
  console.connect(await fetchKey());
} catch (e) {
  show("status-state", "closed");
  show("status-message", String(e.message || e));
}
