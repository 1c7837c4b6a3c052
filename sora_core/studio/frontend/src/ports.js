// Port and particle helpers shared by the nodes, the panels and the run form.

/** The text shown for a port (PortJSON.text, else built from its fields). */
export function portText(port) {
  if (!port) return "";
  if (port.text) return port.text;
  const shape = Array.isArray(port.shape) ? port.shape.join(",") : port.shape || "";
  return `${port.dtype}[${shape}]${port.space ? ` @${port.space}` : ""}`;
}

export function shapeDims(port) {
  if (!port || port.shape == null) return [];
  if (Array.isArray(port.shape)) return port.shape;
  return String(port.shape).split(/[\s,]+/).filter(Boolean);
}

const FLOATS = new Set(["float", "float16", "float32", "float64", "bfloat16", "half", "double"]);

/** How the run form asks for a pipeline input fed to this port: "text", "video" or "value". */
export function inputWidget(port) {
  if (!port) return "value";
  if (port.dtype === "str") return "text";
  const dims = shapeDims(port);
  if (FLOATS.has(port.dtype) && dims.length === 5 && !dims.some((d) => String(d).includes("..."))) return "video";
  return "value";
}

/** A stable colour for a particle kind. */
export function kindColour(kind) {
  let h = 0;
  for (const ch of String(kind || "")) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return `hsl(${h % 360}, 52%, 38%)`;
}

/** The catalog entry for a spec's particle name ("dist:name", or a short name while unique). */
export function resolveParticle(catalog, name) {
  if (!name || !catalog) return null;
  if (catalog.byName[name]) return catalog.byName[name];
  const matches = catalog.byShort[name] || [];
  return matches.length === 1 ? matches[0] : null;
}

export function makeCatalog(data) {
  const byName = {};
  const byShort = {};
  const kinds = [];
  for (const group of data.kinds || []) {
    kinds.push({ kind: group.kind, description: group.description || "", particles: group.particles || [] });
    for (const p of group.particles || []) {
      byName[p.name] = p;
      const short = p.short || p.name.split(":").pop();
      (byShort[short] ||= []).push(p);
    }
  }
  return { kinds, byName, byShort };
}

/** A config schema property as {type, nullable, enum}, following $ref and anyOf [X, null]. */
export function fieldType(schema, prop) {
  const resolve = (p) => {
    if (p && p.$ref && schema) {
      const key = p.$ref.split("/").pop();
      const defs = schema.$defs || schema.definitions || {};
      return { ...defs[key], ...p, $ref: undefined };
    }
    return p || {};
  };
  let p = resolve(prop);
  let nullable = false;
  const variants = p.anyOf || p.oneOf;
  if (variants) {
    const others = variants.map(resolve).filter((v) => v.type !== "null");
    nullable = others.length < variants.length;
    if (others.length === 1) p = { ...others[0], ...p, anyOf: undefined, oneOf: undefined };
    else return { type: "json", nullable, enum: null, prop: p };
  }
  if (Array.isArray(p.type)) {
    const others = p.type.filter((t) => t !== "null");
    nullable = nullable || others.length < p.type.length;
    p = { ...p, type: others.length === 1 ? others[0] : "json" };
  }
  if (Array.isArray(p.enum)) return { type: "enum", nullable, enum: p.enum, prop: p };
  if (p.const !== undefined) return { type: "enum", nullable, enum: [p.const], prop: p };
  if (["number", "integer", "boolean", "string"].includes(p.type)) return { type: p.type, nullable, enum: null, prop: p };
  return { type: "json", nullable, enum: null, prop: p };
}

export function sameValue(a, b) {
  return JSON.stringify(a) === JSON.stringify(b);
}
