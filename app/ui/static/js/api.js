// The router's admin endpoints, with the admin key kept for this tab only (sessionStorage).

const KEY = "llm-router.admin-key";

export const adminKey = {
  get: () => sessionStorage.getItem(KEY),
  set: (key) => sessionStorage.setItem(KEY, key),
  clear: () => sessionStorage.removeItem(KEY),
};

/** An error answer, in OpenAI's envelope: `message`, `code`, `param` and the HTTP status. */
export class ApiError extends Error {
  constructor(status, body) {
    const error = body && body.error ? body.error : {};
    super(error.message || `The router answered ${status}.`);
    this.status = status;
    this.code = error.code || null;
    this.param = error.param || null;
  }

  get unauthorized() {
    return this.status === 401 || this.status === 403;
  }
}

function request(path, { method = "GET", body, signal, accept = "application/json" } = {}) {
  const headers = { authorization: `Bearer ${adminKey.get() || ""}`, accept };
  if (body !== undefined) headers["content-type"] = "application/json";
  return fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal,
    cache: "no-store",
  });
}

async function failure(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    // not JSON: the status says enough
  }
  return new ApiError(response.status, body);
}

/** A JSON endpoint's answer; `ApiError` for an error answer. */
export async function api(path, options = {}) {
  const response = await request(path, options);
  if (!response.ok) throw await failure(response);
  return response.json();
}

/** Open a stream of server-sent events (EventSource cannot send the admin key, so this is fetch). */
export async function openStream(path, options = {}) {
  const response = await request(path, { ...options, accept: "text/event-stream" });
  if (!response.ok) throw await failure(response);
  return response;
}

/** Read a response's server-sent events to its end: `onEvent(name, data)` for each, comments skipped. */
export async function readEvents(response, onEvent) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let name = "message";
  let data = [];
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n")) >= 0) {
      let line = buffer.slice(0, end);
      buffer = buffer.slice(end + 1);
      if (line.endsWith("\r")) line = line.slice(0, -1);
      if (line === "") {
        if (data.length) onEvent(name, data.join("\n"));
        name = "message";
        data = [];
      } else if (!line.startsWith(":")) {
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        let text = colon < 0 ? "" : line.slice(colon + 1);
        if (text.startsWith(" ")) text = text.slice(1);
        if (field === "event") name = text;
        else if (field === "data") data.push(text);
      }
    }
  }
}
