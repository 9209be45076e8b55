// Consumer group: members and their partitions, committed offset and lag per partition, and a
// rebalance timeline (who owned which partition in each generation, and the pause between).
export default {
  render({ model, el }) {
    const root = ksRoot(el, "ks-group");
    const draw = () => {
      const g = model.get("group");
      const timeline = model.get("timeline");
      const colors = new Map();
      const color = (member) => {
        if (!colors.has(member)) colors.set(member, KS_MEMBER_COLORS[colors.size % KS_MEMBER_COLORS.length]);
        return colors.get(member);
      };
      let html = `<h4>Group ${ksEsc(model.get("group_id"))} `;
      if (!g.state) {
        html += `<span class="muted">does not exist yet</span></h4>`;
      } else {
        html += `<span class="muted">${ksEsc(g.state)} · generation ${g.generation} · ${ksEsc(g.protocol || "-")} · coordinator ${g.coordinator} · lag ${g.total_lag}</span>`;
      }
      if (model.get("state") !== "running") html += ` <span class="stopped">${ksEsc(model.get("state"))}</span>`;
      html += `</h4>`;
      if (g.state) {
        html += `<table><thead><tr><th>member</th><th>instance</th><th>partitions</th></tr></thead><tbody>`;
        for (const m of g.members) {
          html += `<tr data-member="${ksEsc(m.member_id)}"><td><span class="chip" style="background:${color(m.member_id)};color:#fff">${ksEsc(m.member_id)}</span></td>`
            + `<td>${ksEsc(m.instance)}</td><td>${ksEsc(m.partitions.join(", "))}</td></tr>`;
        }
        html += `</tbody></table>`;
        const maxLag = Math.max(1, ...g.offsets.map((o) => o.lag || 0));
        html += `<table><thead><tr><th>partition</th><th>member</th><th>committed</th><th>high watermark</th><th>lag</th></tr></thead><tbody>`;
        for (const o of g.offsets) {
          const width = Math.round(120 * (o.lag || 0) / maxLag);
          html += `<tr data-tp="${ksEsc(o.tp)}"><td>${ksEsc(o.tp)}</td><td>${ksEsc(o.owner)}</td><td>${ksEsc(o.committed)}</td>`
            + `<td>${ksEsc(o.high_watermark)}</td><td><span class="bar" style="width:${width}px"></span> ${ksEsc(o.lag)}</td></tr>`;
        }
        html += `</tbody></table>`;
      }
      if (timeline.length) {
        const tps = [...new Set(timeline.flatMap((t) => Object.values(t.assignment).flat()))].sort();
        html += `<h4>Rebalance timeline</h4><table><thead><tr><th>partition</th>`;
        for (const t of timeline) {
          html += `<th class="pause" title="${ksEsc(t.reason)}">pause ${t.duration_ms} ms</th><th class="gen">gen ${t.generation}<br><span class="muted">${ksEsc(t.time)}</span></th>`;
        }
        html += `</tr></thead><tbody>`;
        for (const tp of tps) {
          html += `<tr><td>${ksEsc(tp)}</td>`;
          for (const t of timeline) {
            const owner = Object.keys(t.assignment).find((m) => t.assignment[m].includes(tp));
            html += `<td class="pause"></td>`;
            html += owner ? `<td class="gen" style="background:${color(owner)};color:#fff" title="${ksEsc(owner)}">${ksEsc(owner.slice(0, 14))}</td>` : `<td class="gen muted">-</td>`;
          }
          html += `</tr>`;
        }
        html += `</tbody></table>`;
      }
      root.innerHTML = html;
    };
    return ksBind(model, ["group", "timeline", "state"], draw);
  },
};
