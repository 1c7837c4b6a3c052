import React, { useEffect, useState } from "react";
import { ConfigForm } from "./ConfigForm.jsx";
import { inputTargets, isNodeName, parseEdge, uniqueKey } from "./spec.js";
import { kindColour, portText } from "./ports.js";

function RenameField({ name, spec, onRename }) {
  const [text, setText] = useState(name);
  useEffect(() => setText(name), [name]);
  const taken = text !== name && Object.prototype.hasOwnProperty.call(spec.nodes, text);
  const bad = !isNodeName(text) || taken;
  const commit = () => {
    if (!bad && text !== name) onRename(name, text);
    else setText(name);
  };
  return (
    <input
      className={`node-name-input${bad ? " invalid" : ""}`}
      data-testid="node-name"
      value={text}
      title={taken ? "another node has this name" : bad ? "letters, digits, _ and -, not starting with a digit" : "rename"}
      onChange={(e) => setText(e.target.value)}
      onBlur={commit}
      onKeyDown={(e) => {
        if (e.key === "Enter") commit();
        if (e.key === "Escape") setText(name);
      }}
    />
  );
}

function ExposeRow({ side, port, defaultName, onExpose }) {
  const [name, setName] = useState(defaultName);
  useEffect(() => setName(defaultName), [defaultName]);
  const ok = /^[A-Za-z_][A-Za-z0-9_-]*$/.test(name);
  return (
    <span className="expose">
      <input
        className={`expose-name${ok ? "" : " invalid"}`}
        data-testid={`expose-${side}-name`}
        data-port={port}
        value={name}
        onChange={(e) => setName(e.target.value)}
        onKeyDown={(e) => e.key === "Enter" && ok && onExpose(name)}
        title={`name of the pipeline ${side}`}
      />
      <button data-testid={`expose-${side}`} data-port={port} disabled={!ok} onClick={() => onExpose(name)}>
        expose as {side}
      </button>
    </span>
  );
}

function PortsSection({ view, spec, actions }) {
  const node = view.name;
  const feeds = {};
  for (const e of spec.edges || []) {
    const p = parseEdge(e);
    if (p && p.target === node) (feeds[p.targetPort] ||= []).push(`${p.source}.${p.sourcePort}`);
  }
  const reads = {};
  for (const e of spec.edges || []) {
    const p = parseEdge(e);
    if (p && p.source === node) (reads[p.sourcePort] ||= []).push(`${p.target}.${p.targetPort}`);
  }
  const inputs = inputTargets(spec);
  const exposedIn = {};
  for (const [name, targets] of Object.entries(inputs)) {
    for (const t of targets) {
      const [n, port] = t.split(".");
      if (n === node) (exposedIn[port] ||= []).push(name);
    }
  }
  const exposedOut = {};
  for (const [name, source] of Object.entries(spec.outputs || {})) {
    const [n, port] = String(source).split(".");
    if (n === node) (exposedOut[port] ||= []).push(name);
  }
  return (
    <>
      <div className="section-title">Input ports</div>
      {Object.keys(view.inputs).length === 0 && <div className="muted">none</div>}
      {Object.entries(view.inputs).map(([port, spec_]) => (
        <div className="port-item" key={port}>
          <div className="port-item-head">
            <span className="mono port-item-name">{port}</span>
            <span className="port-item-type" title={portText(spec_)}>
              {portText(spec_)}
              {spec_.optional ? " · optional" : ""}
            </span>
          </div>
          {(feeds[port] || []).map((src) => (
            <div className="port-item-note" key={src}>
              ← {src}
            </div>
          ))}
          {(exposedIn[port] || []).map((name) => (
            <div className="port-item-note exposed" key={name}>
              pipeline input <b>{name}</b>
              <button
                className="icon"
                data-testid="unexpose-input"
                data-name={name}
                title="remove this pipeline input"
                onClick={() => actions.unexposeInput(name, `${node}.${port}`)}
              >
                ×
              </button>
            </div>
          ))}
          {!feeds[port] && !exposedIn[port] && (
            <ExposeRow
              side="input"
              port={port}
              defaultName={inputs[port] ? uniqueKey(Object.keys(inputs), port) : port}
              onExpose={(name) => actions.exposeInput(name, `${node}.${port}`)}
            />
          )}
        </div>
      ))}
      <div className="section-title">Output ports</div>
      {Object.keys(view.outputs).length === 0 && <div className="muted">none</div>}
      {Object.entries(view.outputs).map(([port, spec_]) => (
        <div className="port-item" key={port}>
          <div className="port-item-head">
            <span className="mono port-item-name">{port}</span>
            <span className="port-item-type" title={portText(spec_)}>
              {portText(spec_)}
            </span>
          </div>
          {(reads[port] || []).map((dst) => (
            <div className="port-item-note" key={dst}>
              → {dst}
            </div>
          ))}
          {(exposedOut[port] || []).map((name) => (
            <div className="port-item-note exposed" key={name}>
              pipeline output <b>{name}</b>
              <button
                className="icon"
                data-testid="unexpose-output"
                data-name={name}
                title="remove this pipeline output"
                onClick={() => actions.unexposeOutput(name)}
              >
                ×
              </button>
            </div>
          ))}
          <ExposeRow
            side="output"
            port={port}
            defaultName={uniqueKey(Object.keys(spec.outputs || {}), port)}
            onExpose={(name) => actions.exposeOutput(name, `${node}.${port}`)}
          />
        </div>
      ))}
    </>
  );
}

export function SidePanel({ view, spec, views, fits, actions }) {
  const node = spec.nodes[view.name];
  const options = [];
  const current = view.info ? view.info.name : node.particle;
  options.push({ name: current, description: view.info ? view.info.description : "" });
  for (const f of (fits && fits.node === view.name && fits.fits) || []) {
    if (f.name !== current && f.name !== node.particle) options.push(f);
  }
  const slots = Object.entries(view.components || {});
  return (
    <div className="side-panel" data-testid="side-panel">
      <div className="side-head" style={{ "--kind": kindColour(view.kind) }}>
        <RenameField name={view.name} spec={spec} onRename={actions.renameNode} />
        <div className="side-particle">
          <span className="mono">{node.particle}</span> · {view.kind || "unknown kind"}
        </div>
      </div>
      <div className="side-body">
        {view.info && <p className="side-description">{view.info.description}</p>}
        {view.error && <div className="node-error-box">{view.error}</div>}
        <div className="side-actions">
          <button className="danger" data-testid="delete-node" onClick={() => actions.deleteNodes([view.name])}>
            Delete node
          </button>
        </div>
        <label className="field-label" htmlFor="swap-select">
          Particle (swap for one that fits)
        </label>
        <select
          id="swap-select"
          data-testid="swap-select"
          value={current}
          onChange={(e) => {
            const chosen = options.find((o) => o.name === e.target.value);
            if (chosen && chosen.name !== current) actions.swap(view.name, chosen.name, chosen.node);
          }}
        >
          {options.map((o) => (
            <option key={o.name} value={o.name} title={o.description}>
              {o.name}
              {o.name === current ? " (current)" : ""}
            </option>
          ))}
        </select>
        {fits && fits.node === view.name && fits.misfits && fits.misfits.length > 0 && (
          <details className="misfits">
            <summary>{fits.misfits.length} that would not fit</summary>
            <ul>
              {fits.misfits.map((m) => (
                <li key={m.name}>
                  <span className="mono">{m.name}</span>: {m.reason}
                </li>
              ))}
            </ul>
          </details>
        )}
        <label className="field-label" htmlFor="weights-field">
          Weights
        </label>
        <input
          id="weights-field"
          data-testid="weights-field"
          list="weights-options"
          value={node.weights ?? ""}
          placeholder={view.info && view.info.default_weights ? "none (fresh) — or: default" : "none (fresh)"}
          onChange={(e) => actions.setWeights(view.name, e.target.value)}
        />
        <datalist id="weights-options">
          <option value="default" />
        </datalist>
        {slots.length > 0 && (
          <>
            <div className="section-title">Components</div>
            {slots.map(([slot, kind]) => {
              const optional = (view.optionalComponents || []).includes(slot);
              const candidates = Object.values(views).filter((v) => v.name !== view.name && v.kind === kind);
              const bound = (node.components || {})[slot] || "";
              return (
                <div className="config-row" key={slot}>
                  <label className="config-label" htmlFor={`slot-${slot}`}>
                    {slot}
                    <span className="config-type">
                      {kind}
                      {optional ? " · optional" : ""}
                    </span>
                  </label>
                  <select
                    id={`slot-${slot}`}
                    data-testid="component-select"
                    data-slot={slot}
                    value={bound}
                    onChange={(e) => actions.setComponent(view.name, slot, e.target.value)}
                  >
                    <option value="">(none)</option>
                    {bound && !candidates.some((c) => c.name === bound) && (
                      <option value={bound}>{bound} (not a {kind})</option>
                    )}
                    {candidates.map((c) => (
                      <option key={c.name} value={c.name}>
                        {c.name}
                      </option>
                    ))}
                  </select>
                </div>
              );
            })}
          </>
        )}
        <PortsSection view={view} spec={spec} actions={actions} />
        <div className="section-title">Config</div>
        <ConfigForm
          key={`${view.name}|${current}`}
          particle={view.info}
          config={node.config}
          onSet={(field, value, isFloat) => actions.setConfig(view.name, field, value, isFloat)}
        />
      </div>
    </div>
  );
}

export function EdgePanel({ edge, onDelete }) {
  return (
    <div className="side-panel edge-panel" data-testid="edge-panel">
      <div className="side-head">
        <div className="side-title">Edge</div>
      </div>
      <div className="side-body">
        <p className="mono">{edge}</p>
        <button className="danger" data-testid="delete-edge" onClick={() => onDelete(edge)}>
          Delete edge
        </button>
      </div>
    </div>
  );
}
