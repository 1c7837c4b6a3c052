// Pure helpers over SpecData (the pipeline spec as plain data, exactly the YAML file format).
// Every function returns a new spec and leaves the one it was given untouched, so React sees each change.

import { withFloat, FLOATS } from "./json.js";

const NAME = /^[A-Za-z_][A-Za-z0-9_-]*$/;
const ENDPOINT = /^\s*([A-Za-z_][A-Za-z0-9_-]*)\.([A-Za-z_][A-Za-z0-9_]*)\s*$/;

export function emptySpec() {
  return { name: "pipeline", description: "", nodes: {}, edges: [], inputs: {}, outputs: {} };
}

export function clone(value) {
  return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
}

export function isNodeName(name) {
  return NAME.test(name);
}

/** "node.port" -> {node, port}, or null. */
export function parseEndpoint(text) {
  const match = ENDPOINT.exec(String(text));
  return match ? { node: match[1], port: match[2] } : null;
}

/** "a.out -> b.in" -> {source, sourcePort, target, targetPort}, or null. */
export function parseEdge(text) {
  const [left, right, ...rest] = String(text).split("->");
  if (right === undefined || rest.length) return null;
  const source = parseEndpoint(left);
  const target = parseEndpoint(right);
  if (!source || !target) return null;
  return { source: source.node, sourcePort: source.port, target: target.node, targetPort: target.port };
}

export function edgeText(source, sourcePort, target, targetPort) {
  return `${source}.${sourcePort} -> ${target}.${targetPort}`;
}

/** A spec's inputs as {name: [targets]} whichever form (one target or a list) the file used. */
export function inputTargets(spec) {
  const out = {};
  for (const [name, targets] of Object.entries(spec.inputs || {})) {
    out[name] = Array.isArray(targets) ? targets : [targets];
  }
  return out;
}

/** A node name not in the spec, from a particle's short name: `name`, `name_2`, `name_3`... */
export function uniqueNodeName(spec, short) {
  let base = String(short || "node").replace(/[^A-Za-z0-9_-]/g, "_");
  if (!/^[A-Za-z_]/.test(base)) base = "n_" + base;
  const taken = new Set(Object.keys(spec.nodes || {}));
  if (!taken.has(base)) return base;
  for (let i = 2; ; i++) if (!taken.has(`${base}_${i}`)) return `${base}_${i}`;
}

export function uniqueKey(existing, base) {
  const taken = new Set(existing);
  if (!taken.has(base)) return base;
  for (let i = 2; ; i++) if (!taken.has(`${base}_${i}`)) return `${base}_${i}`;
}

export function addNode(spec, name, particle) {
  return { ...spec, nodes: { ...(spec.nodes || {}), [name]: { particle } } };
}

export function addEdge(spec, text) {
  return { ...spec, edges: [...(spec.edges || []), text] };
}

export function removeEdges(spec, texts) {
  const drop = new Set(texts);
  return { ...spec, edges: (spec.edges || []).filter((e) => !drop.has(e)) };
}

/** Remove nodes, with their edges, exposed inputs/outputs and the component bindings that name them. */
export function removeNodes(spec, names) {
  const drop = new Set(names);
  const nodes = {};
  for (const [name, node] of Object.entries(spec.nodes || {})) {
    if (drop.has(name)) continue;
    if (node.components && Object.values(node.components).some((n) => drop.has(n))) {
      const components = {};
      for (const [slot, target] of Object.entries(node.components)) if (!drop.has(target)) components[slot] = target;
      const copy = { ...node, components };
      if (!Object.keys(components).length) delete copy.components;
      nodes[name] = copy;
    } else nodes[name] = node;
  }
  const edges = (spec.edges || []).filter((e) => {
    const p = parseEdge(e);
    return !p || (!drop.has(p.source) && !drop.has(p.target));
  });
  const next = { ...spec, nodes, edges };
  if (spec.inputs) {
    const inputs = {};
    for (const [name, targets] of Object.entries(spec.inputs)) {
      const list = (Array.isArray(targets) ? targets : [targets]).filter((t) => !drop.has(parseEndpoint(t)?.node));
      if (list.length) inputs[name] = Array.isArray(targets) ? list : list[0];
    }
    next.inputs = inputs;
  }
  if (spec.outputs) {
    const outputs = {};
    for (const [name, source] of Object.entries(spec.outputs)) {
      if (!drop.has(parseEndpoint(source)?.node)) outputs[name] = source;
    }
    next.outputs = outputs;
  }
  return next;
}

/** Rename a node everywhere it is named, keeping the node order. */
export function renameNode(spec, from, to) {
  if (from === to) return spec;
  const swap = (n) => (n === from ? to : n);
  const swapEndpoint = (text) => {
    const p = parseEndpoint(text);
    return p && p.node === from ? `${to}.${p.port}` : text;
  };
  const nodes = {};
  for (const [name, node] of Object.entries(spec.nodes || {})) {
    let copy = node;
    if (node.components && Object.values(node.components).includes(from)) {
      copy = { ...node, components: Object.fromEntries(Object.entries(node.components).map(([s, n]) => [s, swap(n)])) };
    }
    nodes[swap(name)] = copy;
  }
  const edges = (spec.edges || []).map((e) => {
    const p = parseEdge(e);
    if (!p || (p.source !== from && p.target !== from)) return e;
    return edgeText(swap(p.source), p.sourcePort, swap(p.target), p.targetPort);
  });
  const next = { ...spec, nodes, edges };
  if (spec.inputs) {
    next.inputs = Object.fromEntries(
      Object.entries(spec.inputs).map(([k, t]) => [k, Array.isArray(t) ? t.map(swapEndpoint) : swapEndpoint(t)]),
    );
  }
  if (spec.outputs) next.outputs = Object.fromEntries(Object.entries(spec.outputs).map(([k, s]) => [k, swapEndpoint(s)]));
  return next;
}

export function updateNode(spec, name, fn) {
  const nodes = {};
  for (const [key, node] of Object.entries(spec.nodes)) nodes[key] = key === name ? fn(node) : node;
  return { ...spec, nodes };
}

/**
 * Swap a node's particle: config and weights reset (to what the server's fit proposes, e.g. the new
 * particle's shipped weights), components and other keys (device, dtype) kept.
 */
export function swapParticle(spec, name, particle, proposed) {
  return updateNode(spec, name, (node) => {
    const { particle: _old, config: _config, weights: _weights, ...rest } = node;
    const base = proposed && typeof proposed === "object" ? { ...proposed, particle } : { particle };
    const { particle: p, ...fields } = base;
    return { particle: p, ...fields, ...rest };
  });
}

/** Set one config field; `undefined` removes it (back to the particle's default). `isFloat`: write 3 as 3.0. */
export function setConfig(spec, name, field, value, isFloat = false) {
  return updateNode(spec, name, (node) => {
    const config = { ...(node.config || {}) };
    if (value === undefined) delete config[field];
    else config[field] = value;
    config[FLOATS] = withFloat(config, field, isFloat && typeof value === "number");
    const copy = { ...node, config };
    if (!Object.keys(config).length) delete copy.config;
    return copy;
  });
}

/** Bind a component slot to a node; null or "" unbinds it. */
export function setComponent(spec, name, slot, target) {
  return updateNode(spec, name, (node) => {
    const components = { ...(node.components || {}) };
    if (target) components[slot] = target;
    else delete components[slot];
    const copy = { ...node, components };
    if (!Object.keys(components).length) delete copy.components;
    return copy;
  });
}

export function exposeInput(spec, name, target) {
  const inputs = { ...(spec.inputs || {}) };
  if (inputs[name] === undefined) inputs[name] = [target];
  else {
    const list = Array.isArray(inputs[name]) ? inputs[name] : [inputs[name]];
    if (!list.includes(target)) inputs[name] = [...list, target];
  }
  return { ...spec, inputs };
}

/** Remove one target of a pipeline input (the input itself once it feeds nothing). */
export function unexposeInput(spec, name, target) {
  const inputs = {};
  for (const [key, targets] of Object.entries(spec.inputs || {})) {
    if (key !== name) {
      inputs[key] = targets;
      continue;
    }
    const list = (Array.isArray(targets) ? targets : [targets]).filter((t) => t !== target);
    if (list.length) inputs[key] = Array.isArray(targets) ? list : list[0];
  }
  return { ...spec, inputs };
}

export function exposeOutput(spec, name, source) {
  return { ...spec, outputs: { ...(spec.outputs || {}), [name]: source } };
}

export function unexposeOutput(spec, name) {
  const outputs = { ...(spec.outputs || {}) };
  delete outputs[name];
  return { ...spec, outputs };
}

/**
 * Positions left to right by dependency level (specs carry no positions). Component bindings count as
 * dependencies; a node nothing feeds sits one column before the first node that uses it.
 */
export function layout(spec, heightOf = () => 120, { columnWidth = 270, gap = 36 } = {}) {
  const names = Object.keys(spec.nodes || {});
  const parents = Object.fromEntries(names.map((n) => [n, new Set()]));
  const link = (from, to) => {
    if (from !== to && parents[from] && parents[to]) parents[to].add(from);
  };
  for (const e of spec.edges || []) {
    const p = parseEdge(e);
    if (p) link(p.source, p.target);
  }
  for (const [name, node] of Object.entries(spec.nodes || {})) {
    for (const target of Object.values(node.components || {})) link(target, name);
  }
  const level = {};
  const visiting = new Set();
  const depth = (n) => {
    if (level[n] !== undefined) return level[n];
    if (visiting.has(n)) return 0; // a cycle: the checker reports it
    visiting.add(n);
    let d = 0;
    for (const p of parents[n]) d = Math.max(d, depth(p) + 1);
    visiting.delete(n);
    level[n] = d;
    return d;
  };
  names.forEach(depth);
  // sources move right, next to their first consumer
  const children = Object.fromEntries(names.map((n) => [n, []]));
  for (const n of names) for (const p of parents[n]) children[p].push(n);
  for (const n of names) {
    if (parents[n].size === 0 && children[n].length) {
      level[n] = Math.max(0, Math.min(...children[n].map((c) => level[c])) - 1);
    }
  }
  const columns = {};
  for (const n of names) (columns[level[n]] ||= []).push(n);
  const positions = {};
  for (const [col, members] of Object.entries(columns)) {
    let y = 0;
    for (const n of members) {
      positions[n] = { x: Number(col) * columnWidth, y };
      y += heightOf(n) + gap;
    }
  }
  // centre each column vertically on the tallest
  const heights = Object.fromEntries(
    Object.entries(columns).map(([c, m]) => [c, m.reduce((s, n) => s + heightOf(n) + gap, -gap)]),
  );
  const tallest = Math.max(0, ...Object.values(heights));
  for (const [col, members] of Object.entries(columns)) {
    const shift = (tallest - heights[col]) / 2;
    for (const n of members) positions[n].y += shift;
  }
  return positions;
}

/**
 * Edges and pipeline inputs/outputs that name a port their node does not have (after a swap or a config
 * change took it away), given each node's ports in `views`: they cannot be drawn, so they are listed to remove.
 */
export function detachedLinks(spec, views) {
  const has = (endpoint, side) => {
    const p = parseEndpoint(endpoint);
    return !!p && !!views[p.node] && Object.prototype.hasOwnProperty.call(views[p.node][side] || {}, p.port);
  };
  const links = [];
  for (const text of spec.edges || []) {
    const p = parseEdge(text);
    if (!p || !views[p.source] || !views[p.target]) continue; // a missing node is the check's problem
    const source = `${p.source}.${p.sourcePort}`;
    const target = `${p.target}.${p.targetPort}`;
    if (!has(source, "outputs") || !has(target, "inputs")) links.push({ kind: "edge", text, label: `edge ${text}` });
  }
  for (const [name, targets] of Object.entries(inputTargets(spec))) {
    for (const target of targets) {
      const p = parseEndpoint(target);
      if (p && views[p.node] && !has(target, "inputs")) {
        links.push({ kind: "input", name, target, label: `pipeline input ${name} -> ${target}` });
      }
    }
  }
  for (const [name, source] of Object.entries(spec.outputs || {})) {
    const p = parseEndpoint(source);
    if (p && views[p.node] && !has(source, "outputs")) {
      links.push({ kind: "output", name, label: `pipeline output ${name} <- ${source}` });
    }
  }
  return links;
}

/** The spec without one link of `detachedLinks`. */
export function removeLink(spec, link) {
  if (link.kind === "edge") return removeEdges(spec, [link.text]);
  if (link.kind === "input") return unexposeInput(spec, link.name, link.target);
  return unexposeOutput(spec, link.name);
}
