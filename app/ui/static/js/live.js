// The dashboard's one stream of updates (GET /admin/stream), shared by every page, reconnecting when it
// drops. It keeps the latest records, the Overview and the tool invocations, and tells pages what changed.

import { ApiError, openStream, readEvents } from "./api.js";

const KEPT_RECORDS = 1000;
const KEPT_INVOCATIONS = 200;

export class Live extends EventTarget {
  constructor() {
    super();
    this.records = []; // newest first
    this.overview = null;
    this.invocations = []; // newest first
    this.hello = null;
    this.skipped = 0; // records that came in bursts too large to send whole
    this.state = "connecting";
    this.seen = new Set();
    this.controller = null;
    this.stopped = false;
  }

  /** Connect, and stay connected until `stop`; `onRefused(error)` when the key is no longer accepted. */
  start(onRefused) {
    this.stopped = false;
    this.run(onRefused);
  }

  stop() {
    this.stopped = true;
    if (this.controller) this.controller.abort();
  }

  async run(onRefused) {
    let delay = 500;
    while (!this.stopped) {
      this.controller = new AbortController();
      try {
        const response = await openStream("/admin/stream", { signal: this.controller.signal });
        this.setState("live");
        delay = 500;
        await readEvents(response, (name, data) => this.receive(name, JSON.parse(data)));
      } catch (error) {
        if (this.stopped) return;
        if (error instanceof ApiError && error.unauthorized) {
          this.stopped = true;
          onRefused(error);
          return;
        }
      }
      if (this.stopped) return;
      this.setState("reconnecting");
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 10000);
    }
  }

  setState(state) {
    this.state = state;
    this.dispatchEvent(new CustomEvent("state", { detail: state }));
  }

  receive(name, payload) {
    if (name === "hello") {
      this.hello = payload;
    } else if (name === "requests") {
      const added = this.addRecords(payload.data);
      this.skipped += payload.skipped || 0;
      this.dispatchEvent(new CustomEvent("requests", { detail: { added, skipped: payload.skipped } }));
    } else if (name === "overview") {
      this.setOverview(payload);
    } else if (name === "invocation") {
      this.invocations.unshift(payload);
      this.invocations.length = Math.min(this.invocations.length, KEPT_INVOCATIONS);
      this.dispatchEvent(new CustomEvent("invocation", { detail: payload }));
    }
  }

  setOverview(overview) {
    this.overview = overview;
    this.dispatchEvent(new CustomEvent("overview", { detail: overview }));
  }

  /** Add records (oldest first), once each: a reconnection may send some again. */
  addRecords(records) {
    const added = [];
    for (const record of records) {
      const key = `${record.id}@${record.at}@${record.instance}`;
      if (this.seen.has(key)) continue;
      this.seen.add(key);
      this.records.unshift(record);
      added.push(record);
    }
    if (this.records.length > KEPT_RECORDS) {
      for (const old of this.records.splice(KEPT_RECORDS)) this.seen.delete(`${old.id}@${old.at}@${old.instance}`);
    }
    return added;
  }
}
