// Config: the configuration in force (environment, config file and defaults together), every secret
// redacted by the router before it leaves.

import { api } from "./api.js";
import { h, pretty } from "./dom.js";

export default {
  title: "Config",
  mount(root) {
    const shown = h("pre", { id: "config", tabindex: 0 }, "Loading…");
    root.append(
      h("h1", { tabindex: -1 }, "Config"),
      h("p", { class: "muted" }, "The settings in force, with every key, password and header value shown as [redacted]."),
      h("section", { class: "panel" }, shown),
    );
    api("/admin/config")
      .then((config) => {
        shown.textContent = pretty(config);
      })
      .catch((error) => {
        shown.textContent = `Could not read the configuration: ${error.message}`;
      });
    return () => {};
  },
};
