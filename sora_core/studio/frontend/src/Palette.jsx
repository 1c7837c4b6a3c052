import React, { useMemo, useState } from "react";
import { fieldType, kindColour, portText } from "./ports.js";

export const DRAG_TYPE = "application/x-sora-particle";

function matches(p, terms) {
  const hay = `${p.name} ${p.short || ""} ${p.kind} ${p.description || ""}`.toLowerCase();
  return terms.every((t) => hay.includes(t));
}

export function Palette({ catalog, selected, onSelect, error }) {
  const [query, setQuery] = useState("");
  const [collapsed, setCollapsed] = useState({});
  const groups = useMemo(() => {
    if (!catalog) return [];
    const terms = query.toLowerCase().split(/\s+/).filter(Boolean);
    return catalog.kinds
      .map((g) => ({ ...g, particles: g.particles.filter((p) => matches(p, terms)) }))
      .filter((g) => g.particles.length);
  }, [catalog, query]);
  const searching = query.trim() !== "";
  return (
    <div className="palette" data-testid="palette">
      <div className="panel-title">Particles</div>
      <input
        className="palette-search"
        data-testid="palette-search"
        type="search"
        placeholder="Search name, kind, description…"
        value={query}
        onChange={(e) => setQuery(e.target.value)}
      />
      <div className="palette-list">
        {!catalog && !error && <div className="muted">Loading particles…</div>}
        {error && <div className="muted">Particles could not be loaded.</div>}
        {catalog && groups.length === 0 && <div className="muted">No particle matches “{query}”.</div>}
        {groups.map((g) => {
          const closed = collapsed[g.kind] && !searching;
          return (
            <div className="palette-group" key={g.kind}>
              <button
                className="palette-kind"
                style={{ "--kind": kindColour(g.kind) }}
                onClick={() => setCollapsed((c) => ({ ...c, [g.kind]: !c[g.kind] }))}
                title={`${g.description ? g.description + "\n" : ""}(click to ${closed ? "show" : "hide"})`}
              >
                <span className="kind-dot" />
                {g.kind}
                <span className="count">{closed ? `▸ ${g.particles.length}` : g.particles.length}</span>
              </button>
              {!closed &&
                g.particles.map((p) => (
                  <div
                    key={p.name}
                    className={`palette-item${selected === p.name ? " active" : ""}`}
                    data-testid="palette-item"
                    data-particle={p.name}
                    draggable
                    onDragStart={(e) => {
                      e.dataTransfer.setData(DRAG_TYPE, p.name);
                      e.dataTransfer.setData("text/plain", p.name);
                      e.dataTransfer.effectAllowed = "copy";
                    }}
                    onClick={() => onSelect(p.name)}
                    title={`${p.name}\n${p.description || ""}\nDrag onto the canvas to add a node`}
                  >
                    <div className="palette-name">{p.short || p.name}</div>
                    <div className="palette-dist">{p.dist}</div>
                  </div>
                ))}
            </div>
          );
        })}
      </div>
    </div>
  );
}

const LIMITS = [
  ["minimum", "≥"],
  ["exclusiveMinimum", ">"],
  ["maximum", "≤"],
  ["exclusiveMaximum", "<"],
];

function formatValue(value) {
  if (value === undefined) return "—";
  return JSON.stringify(value);
}

export function InfoPanel({ particle, onClose, onAdd }) {
  if (!particle) return null;
  const schema = particle.config_schema || {};
  const props = Object.entries(schema.properties || {});
  const defaults = particle.default_config || {};
  return (
    <div className="info-panel" data-testid="info-panel">
      <div className="info-head" style={{ "--kind": kindColour(particle.kind) }}>
        <div>
          <div className="info-name">{particle.short || particle.name}</div>
          <div className="info-full">{particle.name}</div>
        </div>
        <button className="icon" onClick={onClose} title="close" aria-label="close">
          ×
        </button>
      </div>
      <div className="info-body">
        <p className="info-description">{particle.description}</p>
        <dl className="info-facts">
          <dt>kind</dt>
          <dd>{particle.kind}</dd>
          <dt>distribution</dt>
          <dd>
            {particle.dist} {particle.version}
          </dd>
          <dt>default weights</dt>
          <dd>{particle.default_weights || "none (fresh)"}</dd>
        </dl>
        <div className="info-section">Inputs</div>
        <PortTable ports={particle.inputs} />
        <div className="info-section">Outputs</div>
        <PortTable ports={particle.outputs} />
        <div className="info-section">Config</div>
        {props.length === 0 && <div className="muted">no config fields</div>}
        <div className="info-config">
          {props.map(([name, prop]) => {
            const t = fieldType(schema, prop);
            const limits = [];
            const p = t.prop || prop;
            for (const [key, sign] of LIMITS) if (p[key] !== undefined) limits.push(`${sign} ${p[key]}`);
            return (
              <div className="info-field" key={name} data-field={name}>
                <div>
                  <span className="mono info-field-name">{name}</span>{" "}
                  <span className="type">
                    {t.type === "enum" ? t.enum.map((v) => JSON.stringify(v)).join(" | ") : t.type}
                    {t.nullable ? " | null" : ""}
                  </span>{" "}
                  <span className="mono">= {formatValue(name in defaults ? defaults[name] : prop.default)}</span>
                  {limits.length > 0 && <span className="muted"> ({limits.join(", ")})</span>}
                </div>
                {prop.description && <div className="field-desc">{prop.description}</div>}
              </div>
            );
          })}
        </div>
        <button className="primary add-node" data-testid="add-node" onClick={() => onAdd(particle.name)}>
          Add to canvas
        </button>
      </div>
    </div>
  );
}

function PortTable({ ports }) {
  const entries = Object.entries(ports || {});
  if (!entries.length) return <div className="muted">none</div>;
  return (
    <table className="info-table">
      <tbody>
        {entries.map(([name, port]) => (
          <tr key={name}>
            <td className="mono">{name}</td>
            <td className="mono">
              {portText(port)}
              {port.optional ? " (optional)" : ""}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
