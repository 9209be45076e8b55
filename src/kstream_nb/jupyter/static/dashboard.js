// Dashboard: brokers (up, down, isolated, controller) and every partition's leader, replicas,
// ISR and offsets; cells that changed since the last refresh flash.
export default {
  render({ model, el }) {
    const root = ksRoot(el, "ks-dashboard");
    let before = new Map();
    const draw = () => {
      const brokers = model.get("brokers");
      const partitions = model.get("partitions");
      const now = new Map();
      const flash = (key, value) => {
        now.set(key, value);
        return before.has(key) && before.get(key) !== value ? " changed" : "";
      };
      let html = `<h4>Cluster <span class="muted">${ksEsc(model.get("time"))}</span>`;
      if (model.get("state") !== "running") html += ` <span class="stopped">${ksEsc(model.get("state"))}</span>`;
      html += `</h4><div class="brokers">`;
      for (const b of brokers) {
        const cls = flash(`b${b.id}`, b.status);
        html += `<div class="broker ${ksEsc(b.status)}${cls}" data-broker="${b.id}" data-status="${ksEsc(b.status)}">`
          + `<div><b>broker ${b.id}</b></div><div class="role">${ksEsc(b.status)}${b.controller ? " · controller" : ""}</div>`
          + `<div class="role">${b.leaders} leader${b.leaders === 1 ? "" : "s"}</div></div>`;
      }
      html += `</div><table><thead><tr><th>topic</th><th>partition</th><th>leader</th><th>replicas (ISR green)</th>`
        + `<th>log start</th><th>high watermark</th><th>log end</th><th></th></tr></thead><tbody>`;
      for (const p of partitions) {
        const key = `${p.topic}/${p.partition}`;
        const leaderCls = flash(`${key}/leader`, p.leader);
        const isrCls = flash(`${key}/isr`, p.isr.join(","));
        const hwCls = flash(`${key}/hw`, p.high_watermark);
        const chips = p.replicas.map((r) => {
          const cls = ["chip", p.isr.includes(r) ? "isr" : "", r === p.leader ? "leader" : ""].join(" ");
          return `<span class="${cls}">${r}</span>`;
        }).join("");
        html += `<tr class="${ksEsc(p.mark)}" data-topic="${ksEsc(p.topic)}" data-partition="${p.partition}" data-leader="${p.leader}">`
          + `<td>${ksEsc(p.topic)}</td><td>${p.partition}</td>`
          + `<td class="leader${leaderCls}">${p.leader < 0 ? "none" : p.leader}</td>`
          + `<td class="${isrCls}">${chips}</td>`
          + `<td>${ksEsc(p.log_start)}</td><td class="${hwCls}">${ksEsc(p.high_watermark)}</td><td>${ksEsc(p.log_end)}</td>`
          + `<td>${ksEsc(p.mark)}</td></tr>`;
      }
      html += `</tbody></table>`;
      if (!partitions.length) html += `<div class="muted">no topics yet</div>`;
      root.innerHTML = html;
      before = now;
    };
    return ksBind(model, ["brokers", "partitions", "state", "time"], draw);
  },
};
