import React, { useEffect, useState } from "react";
import { fieldType, sameValue } from "./ports.js";
import { parse, stringify } from "./json.js";

// The selected node's config, one field per property of its particle's config schema. Only fields that
// differ from the particle's default are written into the node's `config` (a field set back to its
// default is removed again).

function Field({ name, prop, schema, value, fallback, isSet, onCommit, onReset }) {
  const t = fieldType(schema, prop);
  const shown = isSet ? value : fallback;
  const common = { "data-testid": "config-field", "data-field": name, id: `config-${name}` };
  let control;
  if (t.type === "boolean") {
    control = <input type="checkbox" {...common} checked={!!shown} onChange={(e) => onCommit(e.target.checked)} />;
  } else if (t.type === "enum") {
    const options = [...t.enum];
    if (t.nullable && !options.includes(null)) options.push(null);
    const known = options.some((o) => sameValue(o, shown));
    control = (
      <select {...common} value={JSON.stringify(shown ?? null)} onChange={(e) => onCommit(JSON.parse(e.target.value))}>
        {!known && <option value={JSON.stringify(shown ?? null)}>{String(shown)}</option>}
        {options.map((o) => (
          <option key={JSON.stringify(o)} value={JSON.stringify(o)}>
            {o === null ? "(none)" : String(o)}
          </option>
        ))}
      </select>
    );
  } else if (t.type === "number" || t.type === "integer") {
    control = <NumberField common={common} t={t} shown={shown} onCommit={onCommit} onReset={onReset} />;
  } else if (t.type === "string") {
    control = (
      <input
        type="text"
        {...common}
        value={shown ?? ""}
        placeholder={t.nullable ? "(none)" : ""}
        onChange={(e) => onCommit(e.target.value === "" && t.nullable ? null : e.target.value)}
      />
    );
  } else {
    control = <JsonField common={common} shown={shown} onCommit={onCommit} />;
  }
  const p = t.prop || prop;
  const limits = [];
  if (p.minimum !== undefined) limits.push(`≥ ${p.minimum}`);
  if (p.exclusiveMinimum !== undefined) limits.push(`> ${p.exclusiveMinimum}`);
  if (p.maximum !== undefined) limits.push(`≤ ${p.maximum}`);
  if (p.exclusiveMaximum !== undefined) limits.push(`< ${p.exclusiveMaximum}`);
  const help = [prop.description, limits.join(", "), `default: ${JSON.stringify(fallback)}`].filter(Boolean).join("\n");
  return (
    <div className={`config-row${isSet ? " is-set" : ""}`} title={help}>
      <label htmlFor={common.id} className="config-label">
        {name}
        {!prop.__unknown && <span className="config-type">{t.type === "json" ? "json" : t.type}</span>}
        {prop.__unknown && <span className="config-type warn">not in schema</span>}
      </label>
      <div className="config-control">
        {control}
        {isSet && (
          <button className="icon reset" onClick={onReset} title={`back to the default (${JSON.stringify(fallback)})`}>
            ↺
          </button>
        )}
      </div>
    </div>
  );
}

function NumberField({ common, t, shown, onCommit, onReset }) {
  const [text, setText] = useState(shown == null ? "" : String(shown));
  useEffect(() => {
    // follow outside changes (a reset, a swap) unless the text already means the same number
    if (shown == null ? text !== "" : Number(text) !== shown || text === "") setText(shown == null ? "" : String(shown));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [shown]);
  const bad = text !== "" && (!Number.isFinite(Number(text)) || (t.type === "integer" && !Number.isInteger(Number(text))));
  return (
    <input
      type="number"
      {...common}
      className={bad ? "invalid" : ""}
      step={t.type === "integer" ? 1 : "any"}
      value={text}
      placeholder={t.nullable ? "(none)" : ""}
      onChange={(e) => {
        const value = e.target.value;
        setText(value);
        if (value === "") {
          if (t.nullable) onCommit(null);
          else onReset();
          return;
        }
        const n = Number(value);
        if (Number.isFinite(n) && (t.type !== "integer" || Number.isInteger(n))) onCommit(n);
      }}
    />
  );
}

function JsonField({ common, shown, onCommit }) {
  const format = (v) => (v === undefined ? "" : stringify(v));
  const [text, setText] = useState(format(shown));
  const [bad, setBad] = useState(false);
  useEffect(() => {
    let same = false;
    try {
      same = sameValue(parse(text), shown);
    } catch {
      same = false;
    }
    if (!same) {
      setText(format(shown));
      setBad(false);
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [JSON.stringify(shown)]);
  return (
    <input
      type="text"
      {...common}
      className={`mono${bad ? " invalid" : ""}`}
      value={text}
      title={bad ? "not valid JSON: not written" : "JSON"}
      onChange={(e) => {
        setText(e.target.value);
        try {
          const value = parse(e.target.value);
          setBad(false);
          onCommit(value);
        } catch {
          setBad(true);
        }
      }}
    />
  );
}

export function ConfigForm({ particle, config, onSet }) {
  const schema = (particle && particle.config_schema) || {};
  const props = { ...(schema.properties || {}) };
  for (const key of Object.keys(config || {})) {
    if (!(key in props)) props[key] = { __unknown: true, description: "not a field of this particle's config schema" };
  }
  const defaults = (particle && particle.default_config) || {};
  const entries = Object.entries(props);
  if (!entries.length) return <div className="muted">This particle has no config.</div>;
  return (
    <div className="config-form">
      {entries.map(([name, prop]) => {
        const fallback = name in defaults ? defaults[name] : prop.default;
        const isSet = config != null && Object.prototype.hasOwnProperty.call(config, name);
        return (
          <Field
            key={name}
            name={name}
            prop={prop}
            schema={schema}
            value={isSet ? config[name] : undefined}
            fallback={fallback}
            isSet={isSet}
            onCommit={(value) =>
              onSet(
                name,
                sameValue(value, fallback) && !prop.__unknown ? undefined : value,
                fieldType(schema, prop).type === "number",
              )
            }
            onReset={() => onSet(name, undefined)}
          />
        );
      })}
    </div>
  );
}
