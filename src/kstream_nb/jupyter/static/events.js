// Event log: the cluster's own events (broker died, leader elected, rebalance done), newest first.
export default {
  render({ model, el }) {
    const root = ksRoot(el, "ks-events");
    let newest = null;
    const draw = () => {
      const events = model.get("events");
      let html = `<h4>Cluster events <span class="muted">${model.get("total")} so far</span>`;
      if (model.get("state") !== "running") html += ` <span class="stopped">${ksEsc(model.get("state"))}</span>`;
      html += `</h4><table><thead><tr><th>#</th><th>time</th><th>event</th><th>details</th></tr></thead><tbody>`;
      for (const e of events.slice().reverse()) {
        const fresh = newest !== null && e.index > newest ? "changed" : "";
        html += `<tr class="${fresh}" data-event="${ksEsc(e.type)}"><td>${e.index}</td><td>${ksEsc(e.time)}</td>`
          + `<td><b>${ksEsc(e.type)}</b></td><td>${ksEsc(e.details)}</td></tr>`;
      }
      html += `</tbody></table>`;
      root.innerHTML = html;
      newest = events.length ? events[events.length - 1].index : newest;
    };
    return ksBind(model, ["events", "state", "total"], draw);
  },
};
