import React, { useState } from "react";
import { inputTargets, parseEndpoint } from "./spec.js";
import { inputWidget, portText } from "./ports.js";
import { stringify } from "./json.js";

function describeInputs(spec, views) {
  return Object.entries(inputTargets(spec)).map(([name, targets]) => {
    const target = parseEndpoint(targets[0] || "");
    const port = target && views[target.node] ? views[target.node].inputs[target.port] : null;
    return { name, targets, port, widget: inputWidget(port) };
  });
}

export function RunForm({ spec, views, running, onRun }) {
  const [values, setValues] = useState({});
  const [seed, setSeed] = useState("");
  const inputs = describeInputs(spec, views);
  const submit = (e) => {
    e.preventDefault();
    const form = new FormData();
    form.append("spec", stringify(spec));
    if (seed.trim() !== "") form.append("seed", seed.trim());
    for (const input of inputs) {
      const value = values[input.name];
      if (value instanceof File) form.append(`input.${input.name}`, value, value.name);
      else if (value != null && value !== "") form.append(`input.${input.name}`, value);
    }
    onRun(form);
  };
  return (
    <form className="run-form" data-testid="run-form" onSubmit={submit}>
      <div className="panel-title">Run</div>
      {inputs.length === 0 && (
        <div className="muted small">No pipeline inputs: expose an input port from the selected node’s panel.</div>
      )}
      {inputs.map((input) => (
        <label className="run-field" key={input.name} title={`${input.targets.join(", ")}: ${portText(input.port)}`}>
          <span className="run-label">
            {input.name} <span className="muted mono small">{input.port ? portText(input.port) : "?"}</span>
          </span>
          {input.widget === "video" ? (
            <input
              type="file"
              data-testid="run-input"
              data-input={input.name}
              accept="video/*,.mp4,.gif"
              onChange={(e) => setValues((v) => ({ ...v, [input.name]: e.target.files[0] || null }))}
            />
          ) : (
            <input
              type="text"
              data-testid="run-input"
              data-input={input.name}
              className={input.widget === "value" ? "mono" : ""}
              placeholder={input.widget === "text" ? "a red circle moving right" : "JSON, or randn:1,4"}
              value={values[input.name] ?? ""}
              onChange={(e) => setValues((v) => ({ ...v, [input.name]: e.target.value }))}
            />
          )}
        </label>
      ))}
      <div className="run-row">
        <label className="run-seed">
          seed{" "}
          <input
            type="number"
            data-testid="run-seed"
            value={seed}
            placeholder="random"
            onChange={(e) => setSeed(e.target.value)}
          />
        </label>
        <button type="submit" className="primary" data-testid="run-button" disabled={running}>
          {running ? "Running…" : "Run"}
        </button>
      </div>
    </form>
  );
}

export function RunStatus({ run, starting }) {
  let text = "Not run yet.";
  let cls = "idle";
  if (starting) {
    text = "Starting…";
    cls = "running";
  } else if (run) {
    cls = run.status;
    const progress = run.progress ? ` ${run.progress.done}/${run.progress.total} nodes` : "";
    if (run.status === "running" || run.status === "queued") {
      const stage = run.stage && run.stage !== run.status ? ` (${run.stage})` : "";
      text = `${run.status}${stage}:${progress}`;
    }
    else if (run.status === "done") text = `done:${progress}${run.elapsed != null ? ` in ${run.elapsed.toFixed(1)} s` : ""}`;
    else if (run.status === "failed") text = `failed: ${run.error ? run.error.message : "unknown error"}`;
    else text = run.status;
  }
  return (
    <div className={`run-status status-${cls}`} data-testid="run-status">
      {run && (run.status === "running" || run.status === "queued") && run.progress && run.progress.total > 0 && (
        <progress value={run.progress.done} max={run.progress.total} />
      )}
      <span>{text}</span>
      {run && run.status === "failed" && run.error && run.error.hint && <div className="hint">{run.error.hint}</div>}
      {run && (run.warnings || []).length > 0 && (
        <ul className="run-warnings" data-testid="run-warnings">
          {run.warnings.map((w, i) => (
            <li key={i}>{w}</li>
          ))}
        </ul>
      )}
    </div>
  );
}

function fmt(x) {
  if (typeof x !== "number") return String(x);
  return Math.abs(x) >= 1000 || (Math.abs(x) < 0.001 && x !== 0) ? x.toExponential(3) : x.toFixed(4);
}

function Output({ name, output }) {
  if (output.type === "video") {
    return (
      <video
        data-testid="output-video"
        data-output={name}
        src={output.url}
        controls
        autoPlay
        loop
        muted
        playsInline
        title={`${name}: ${JSON.stringify(output.shape)}${output.fps ? ` at ${output.fps} fps` : ""}`}
      />
    );
  }
  if (output.type === "text") {
    const lines = Array.isArray(output.value) ? output.value : [output.value];
    return (
      <div className="output-text" data-testid="output-text" data-output={name}>
        {lines.map((line, i) => (
          <div key={i}>{String(line)}</div>
        ))}
      </div>
    );
  }
  if (output.type === "tensor") {
    return (
      <table className="output-tensor" data-testid="output-tensor" data-output={name}>
        <tbody>
          <tr>
            <th>dtype</th>
            <td>{output.dtype}</td>
          </tr>
          <tr>
            <th>shape</th>
            <td>[{(output.shape || []).join(", ")}]</td>
          </tr>
          {["mean", "std", "min", "max"].map((k) =>
            output[k] !== undefined && output[k] !== null ? (
              <tr key={k}>
                <th>{k}</th>
                <td>{fmt(output[k])}</td>
              </tr>
            ) : null,
          )}
        </tbody>
      </table>
    );
  }
  return (
    <pre className="output-value" data-testid="output-value" data-output={name}>
      {JSON.stringify(output.value !== undefined ? output.value : output, null, 1)}
    </pre>
  );
}

export function Outputs({ run }) {
  const outputs = Object.entries((run && run.outputs) || {});
  return (
    <div className="outputs" data-testid="outputs">
      <div className="panel-title">Outputs</div>
      {outputs.length === 0 && <div className="muted small">{run && run.status !== "done" && run.status !== "failed" ? "…" : "Run the pipeline to see its outputs."}</div>}
      {outputs.map(([name, output]) => (
        <div className="output" key={name}>
          <div className="output-name">
            {name} <span className="muted small">{output.type}</span>
          </div>
          <Output name={name} output={output} />
        </div>
      ))}
    </div>
  );
}
