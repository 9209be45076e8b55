// LiveChart's front end: draws a Vega-Lite spec with vega-embed and streams rows into one
// named dataset of the running view. Plain ES module, no build step, no CDN: Vega comes from the
// kernel's one VegaRuntime widget and is imported once per page (cached on globalThis).
//
// The model keeps the last `window` rows (filled by "append"/"reset" messages and one "sync"
// request when the model starts); every view draws from them and inserts its own copies, since
// Vega marks the objects it ingests and a transform may add fields to them.

const RUNTIME_CACHE = "__kstream_nb_vega_runtime__";

function modelIdOf(ref) {
  if (typeof ref !== "string" || ref === "") {
    throw new Error(`LiveChart: no Vega runtime widget (got ${JSON.stringify(ref)})`);
  }
  for (const prefix of ["IPY_MODEL_", "anywidget:"]) {
    if (ref.startsWith(prefix)) return ref.slice(prefix.length);
  }
  return ref;
}

async function importBundle(code) {
  const url = URL.createObjectURL(new Blob([code], { type: "text/javascript" }));
  try {
    const mod = await import(/* webpackIgnore: true */ /* @vite-ignore */ url);
    const vegaEmbed = mod.vegaEmbed ?? globalThis.vegaEmbed;
    if (typeof vegaEmbed !== "function") {
      throw new Error("LiveChart: the Vega bundle did not define vegaEmbed");
    }
    return { vegaEmbed };
  } finally {
    URL.revokeObjectURL(url);
  }
}

// The runtime's model; when a reloaded page restores models from the kernel, this chart's model
// may come up before the runtime's is registered, so wait a little for it.
async function runtimeModelOf(model) {
  const id = modelIdOf(model.get("_runtime"));
  for (let attempt = 0; ; attempt++) {
    try {
      return await model.widget_manager.get_model(id);
    } catch (error) {
      if (attempt >= 40) throw error;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

// Resolve the VegaRuntime model this chart points at and load its bundle (once per version).
async function loadRuntime(model) {
  const runtimeModel = await runtimeModelOf(model);
  const version = runtimeModel.get("version");
  const cache = (globalThis[RUNTIME_CACHE] ??= new Map());
  let promise = cache.get(version);
  if (promise === undefined) {
    promise = importBundle(runtimeModel.get("bundle"));
    cache.set(version, promise);
    promise.catch(() => cache.delete(version)); // let a later view try again
  }
  return promise;
}

function windowOf(model) {
  const n = Number(model.get("window"));
  return Number.isFinite(n) && n >= 1 ? Math.floor(n) : 1;
}

function pushAll(target, items) {
  for (const item of items) target.push(item); // no spread: a reset may carry many rows
}

function showError(el, error) {
  console.error("LiveChart:", error);
  const pre = document.createElement("pre");
  pre.className = "kstream-livechart-error";
  pre.style.color = "#b00020";
  pre.style.whiteSpace = "pre-wrap";
  pre.textContent = `LiveChart: ${error?.message ?? error}`;
  el.replaceChildren(pre);
}

// One view: an embedded Vega view plus the row copies it inserted (to remove them later).
function createView(model, el, store) {
  let current = null; // { result (vega-embed's), dataset, inserted }
  let generation = 0;
  let disposed = false;

  function change(apply) {
    if (current === null) return;
    const { result, dataset } = current;
    try {
      const changes = result.view.changeset();
      apply(changes);
      result.view.change(dataset, changes).run();
    } catch (error) {
      showError(el, error);
    }
  }

  // Insert `rows` (after removing all rows, on a reset), then drop the oldest past the window.
  // Only rows already in the view are removed: a changeset never inserts and removes one tuple.
  function insert(rows, replace) {
    change((changes) => {
      const limit = windowOf(model);
      const copies = rows.slice(-limit).map((row) => ({ ...row }));
      if (replace) {
        changes.remove(() => true);
        current.inserted = [];
      } else {
        const excess = current.inserted.length + copies.length - limit;
        if (excess > 0) changes.remove(current.inserted.splice(0, excess));
      }
      changes.insert(copies);
      pushAll(current.inserted, copies);
    });
  }

  const handle = {
    append: (rows) => insert(rows, false),
    reset: (rows) => insert(rows, true),
    trim() {
      change((changes) => {
        const excess = current.inserted.length - windowOf(model);
        if (excess > 0) changes.remove(current.inserted.splice(0, excess));
      });
    },
  };

  function finalize() {
    if (current !== null) {
      current.result.finalize();
      current = null;
    }
  }

  async function embed() {
    const mine = ++generation;
    try {
      const runtime = await loadRuntime(model);
      if (disposed || mine !== generation) return;
      finalize();
      const node = document.createElement("div");
      node.className = "kstream-livechart-view";
      el.replaceChildren(node);
      const spec = JSON.parse(JSON.stringify(model.get("spec"))); // vega-embed may mutate it
      const result = await runtime.vegaEmbed(node, spec, {
        actions: false,
        mode: "vega-lite",
        renderer: model.get("renderer") || "svg",
      });
      if (disposed || mine !== generation) {
        result.finalize();
        return;
      }
      current = { result, dataset: model.get("dataset"), inserted: [] };
      handle.reset(store.rows);
    } catch (error) {
      if (!disposed && mine === generation) showError(el, error);
    }
  }

  function dispose() {
    if (disposed) return;
    disposed = true;
    generation += 1;
    store.views.delete(handle);
    finalize();
  }

  store.views.add(handle);
  return { embed, dispose };
}

export default () => {
  // Per model (anywidget calls this factory once for each model).
  const store = { rows: [], requested: false, views: new Set() };

  function trimStore(model) {
    const excess = store.rows.length - windowOf(model);
    if (excess > 0) store.rows.splice(0, excess);
  }

  function onMessage(model, msg) {
    if (msg === null || typeof msg !== "object" || !Array.isArray(msg.rows)) return;
    if (msg.type === "append") {
      pushAll(store.rows, msg.rows);
      trimStore(model);
      for (const view of store.views) view.append(msg.rows);
    } else if (msg.type === "reset") {
      store.rows = msg.rows.slice();
      trimStore(model);
      for (const view of store.views) view.reset(store.rows);
    }
  }

  return {
    initialize({ model }) {
      const onCustom = (msg) => onMessage(model, msg);
      const onWindow = () => {
        trimStore(model);
        for (const view of store.views) view.trim();
      };
      model.on("msg:custom", onCustom);
      model.on("change:window", onWindow);
      store.requested = true;
      model.send({ type: "sync" }); // rows appended before this page knew the model
      return () => {
        model.off("msg:custom", onCustom);
        model.off("change:window", onWindow);
      };
    },

    async render({ model, el, signal }) {
      el.classList.add("kstream-livechart");
      const view = createView(model, el, store);
      signal?.addEventListener("abort", view.dispose);
      for (const name of ["change:spec", "change:dataset", "change:renderer"]) {
        model.on(name, view.embed);
      }
      if (!store.requested) {
        store.requested = true; // a front end that never called initialize
        model.send({ type: "sync" });
      }
      await view.embed();
      return view.dispose;
    },
  };
};
