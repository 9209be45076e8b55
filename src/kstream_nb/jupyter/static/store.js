// A streams application's table (a state store), refreshed while the application runs.
export default {
  render({ model, el }) {
    const root = ksRoot(el, "ks-store");
    let before = new Map();
    const draw = () => {
      const columns = model.get("columns");
      const rows = model.get("rows");
      let html = `<h4>${ksEsc(model.get("title"))} <span class="muted">${model.get("total")} rows</span>`;
      if (model.get("state") !== "running") html += ` <span class="stopped">${ksEsc(model.get("state"))}</span>`;
      html += `</h4><table><thead><tr>${columns.map((c) => `<th>${ksEsc(c)}</th>`).join("")}</tr></thead><tbody>`;
      const now = new Map();
      for (const row of rows) {
        const id = row.slice(0, -1).join("\u0000");
        const value = row[row.length - 1];
        now.set(id, value);
        const fresh = before.has(id) && before.get(id) !== value ? "changed" : "";
        html += `<tr class="${fresh}">${row.map((c) => `<td>${ksEsc(c)}</td>`).join("")}</tr>`;
      }
      html += `</tbody></table>`;
      root.innerHTML = html;
      before = now;
    };
    return ksBind(model, ["rows", "columns", "state", "title", "total"], draw);
  },
};
