// Calls to the `sora studio` server. Every failure (HTTP 4xx/5xx or no answer) is an ApiError with the
// server's message and hint, so the page can show them and carry on. Bodies are read and written by
// json.js, so a config value of 3.0 goes back to the server as 3.0, not 3.

import { parse, stringify } from "./json.js";

export class ApiError extends Error {
  constructor(message, hint = "", type = "Error", status = 0) {
    super(message);
    this.hint = hint;
    this.type = type;
    this.status = status;
  }
}

async function request(method, path, body) {
  const init = { method, headers: { Accept: "application/json" } };
  if (body instanceof FormData) init.body = body;
  else if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (exc) {
    throw new ApiError(
      `no answer from the studio server (${method} ${path}): ${exc.message || exc}`,
      "is `sora studio` still running? Your graph is kept: try again once it is back.",
      "NetworkError",
    );
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const error = data && data.error;
    if (error && error.message) throw new ApiError(error.message, error.hint || "", error.type || "Error", response.status);
    throw new ApiError(
      `${method} ${path} failed: HTTP ${response.status} ${response.statusText}`.trim(),
      text && !data ? text.slice(0, 300) : "",
      "HTTPError",
      response.status,
    );
  }
  if (data === null) throw new ApiError(`${method} ${path}: the server's answer is not JSON`, text.slice(0, 300));
  return data;
}

export const api = {
  particles: () => request("GET", "/api/particles"),
  templates: () => request("GET", "/api/templates"),
  session: () => request("GET", "/api/session"),
  template: (name) => request("GET", `/api/templates/${encodeURIComponent(name)}`),
  check: (spec) => request("POST", "/api/check", { spec }),
  connect: (spec, edge) => request("POST", "/api/connect", { spec, edge }),
  fits: (spec, node) => request("POST", "/api/fits", { spec, node }),
  importSpec: (text) => request("POST", "/api/spec/import", { text }),
  exportSpec: (spec) => request("POST", "/api/spec/export", { spec }),
  startRun: (form) => request("POST", "/api/runs", form),
  run: (id) => request("GET", `/api/runs/${encodeURIComponent(id)}`),
};
