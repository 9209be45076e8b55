// Tail: the newest records of a topic, newest first; records not shown before flash.
export default {
  render({ model, el }) {
    const root = ksRoot(el, "ks-tail");
    let seen = null;
    const draw = () => {
      const records = model.get("records");
      const now = new Set(records.map((r) => `${r.partition}/${r.offset}`));
      let html = `<h4>${ksEsc(model.get("topic"))} <span class="muted">newest ${records.length} of ${model.get("total")} records</span>`;
      if (model.get("state") !== "running") html += ` <span class="stopped">${ksEsc(model.get("state"))}</span>`;
      html += `</h4><table><thead><tr><th>partition</th><th>offset</th><th>timestamp</th><th>key</th><th>value</th><th>headers</th></tr></thead><tbody>`;
      for (const r of records) {
        const fresh = seen !== null && !seen.has(`${r.partition}/${r.offset}`) ? "changed" : "";
        html += `<tr class="${fresh}" data-partition="${r.partition}" data-offset="${r.offset}"><td>${r.partition}</td><td>${r.offset}</td>`
          + `<td>${ksEsc(r.timestamp)}</td><td><code>${ksEsc(r.key)}</code></td><td><pre>${ksEsc(r.value)}</pre></td>`
          + `<td><code>${ksEsc(r.headers)}</code></td></tr>`;
      }
      html += `</tbody></table>`;
      root.innerHTML = html;
      seen = now;
    };
    return ksBind(model, ["records", "state", "total"], draw);
  },
};
