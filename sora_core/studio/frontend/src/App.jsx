import React, { useCallback, useEffect, useMemo, useRef, useState } from "react";
import {
  Background,
  Controls,
  MiniMap,
  ReactFlow,
  ReactFlowProvider,
  useNodesInitialized,
  useNodesState,
  useReactFlow,
} from "@xyflow/react";
import { ApiError, api } from "./api.js";
import ParticleNode from "./ParticleNode.jsx";
import { DRAG_TYPE, InfoPanel, Palette } from "./Palette.jsx";
import { EdgePanel, SidePanel } from "./SidePanel.jsx";
import { Outputs, RunForm, RunStatus } from "./RunPanel.jsx";
import { kindColour, makeCatalog, resolveParticle } from "./ports.js";
import * as S from "./spec.js";
import { copy, parse } from "./json.js";

const nodeTypes = { particle: ParticleNode };
const CHECK_DELAY_MS = 150;
const POLL_MS = 300;
const HISTORY_LIMIT = 100;

/** What each node shows: its particle, kind and ports (from the last check, else the palette's static ports). */
function computeViews(spec, catalog, check) {
  const views = {};
  const bound = new Set();
  for (const node of Object.values(spec.nodes || {})) for (const t of Object.values(node.components || {})) bound.add(t);
  for (const [name, node] of Object.entries(spec.nodes || {})) {
    const info = resolveParticle(catalog, node.particle);
    const c = check && check.nodes ? check.nodes[name] : null;
    const fresh = !!c && (c.particle === node.particle || (!!info && c.particle === info.name));
    const usable = (ports) => fresh && ports && (Object.keys(ports).length > 0 || !c.error);
    let error = null;
    if (fresh) error = c.error || null;
    else if (catalog && !info) error = `unknown particle ${JSON.stringify(node.particle)}`;
    views[name] = {
      name,
      particle: node.particle,
      info,
      kind: (fresh && c.kind) || (info && info.kind) || null,
      inputs: usable(c && c.inputs) ? c.inputs : (info && info.inputs) || {},
      outputs: usable(c && c.outputs) ? c.outputs : (info && info.outputs) || {},
      components: fresh ? c.components || {} : {},
      optionalComponents: fresh ? c.optional_components || [] : [],
      error,
      hasSlots: Object.keys(node.components || {}).length > 0,
      isComponent: bound.has(name),
    };
  }
  return views;
}

function estimatedHeight(view) {
  if (!view) return 110;
  const rows = Math.max(Object.keys(view.inputs).length, Object.keys(view.outputs).length, 1);
  return 52 + rows * 21 + 8;
}

function Message({ message, onClose }) {
  return (
    <div className={`message message-${message.kind}`} data-testid="message" role="alert">
      <div className="message-text">
        <div>{message.text}</div>
        {message.hint && <div className="hint">{message.hint}</div>}
      </div>
      <button className="icon" data-testid="message-close" onClick={onClose} title="dismiss" aria-label="dismiss">
        ×
      </button>
    </div>
  );
}

function ExportDialog({ text, fileName, onDownload, onClose }) {
  const area = useRef(null);
  return (
    <div className="dialog-backdrop" onClick={onClose}>
      <div className="dialog" role="dialog" aria-label="Exported spec" onClick={(e) => e.stopPropagation()}>
        <div className="dialog-head">
          <b>{fileName}</b>
          <button className="icon" onClick={onClose} data-testid="export-close" title="close" aria-label="close">
            ×
          </button>
        </div>
        <textarea ref={area} data-testid="export-text" className="mono" readOnly value={text} spellCheck={false} />
        <div className="dialog-actions">
          <button
            onClick={() => {
              area.current.select();
              if (navigator.clipboard) navigator.clipboard.writeText(text).catch(() => document.execCommand("copy"));
              else document.execCommand("copy");
            }}
          >
            Copy
          </button>
          <button onClick={onDownload}>Download again</button>
          <button className="primary" onClick={onClose}>
            Close
          </button>
        </div>
      </div>
    </div>
  );
}

function download(text, fileName) {
  const blob = new Blob([text], { type: "application/x-yaml" });
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = fileName;
  a.style.display = "none";
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 30000);
}

function Studio() {
  const [catalog, setCatalog] = useState(null);
  const [catalogError, setCatalogError] = useState(null);
  const [templates, setTemplates] = useState([]);
  const [templateName, setTemplateName] = useState("");
  const templatesRef = useRef([]);
  templatesRef.current = templates;
  const [spec, setSpecState] = useState(S.emptySpec);
  const specRef = useRef(spec);
  const [check, setCheck] = useState(null);
  const [checkFailed, setCheckFailed] = useState(null);
  const [checkedSpec, setCheckedSpec] = useState(null);
  const [message, setMessage] = useState(null);
  const [infoParticle, setInfoParticle] = useState(null);
  const [nodes, setNodes, onNodesChange] = useNodesState([]);
  const [selectedEdge, setSelectedEdge] = useState(null);
  const [fits, setFits] = useState(null);
  const [run, setRun] = useState(null);
  const [starting, setStarting] = useState(false);
  const [exported, setExported] = useState(null);
  const pendingPositions = useRef({});
  const pendingSelect = useRef(null);
  const pendingFit = useRef(false);
  const fitsInFlight = useRef(0);
  const runId = useRef(null);
  const checkSeq = useRef(0);
  const wrapper = useRef(null);
  const rf = useReactFlow();
  const nodesInitialized = useNodesInitialized();

  // --- undo and redo: every change of the spec, with where its nodes stood
  const past = useRef([]);
  const future = useRef([]);
  const lastGroup = useRef(null);
  const [, setHistoryVersion] = useState(0);
  const snapshot = useCallback(
    () => ({ spec: specRef.current, positions: Object.fromEntries(rf.getNodes().map((n) => [n.id, n.position])) }),
    [rf],
  );

  // `group` names a run of edits that undo as one (typing into one field); `record: false` keeps no history
  const updateSpec = useCallback(
    (fn, { group = null, record = true } = {}) => {
      const current = specRef.current;
      const next = typeof fn === "function" ? fn(current) : fn;
      if (next === current) return next;
      if (record && (group === null || group !== lastGroup.current)) {
        past.current = [...past.current, snapshot()].slice(-HISTORY_LIMIT);
        future.current = [];
        setHistoryVersion((v) => v + 1);
      }
      lastGroup.current = record ? group : null;
      specRef.current = next;
      setSpecState(next);
      return next;
    },
    [snapshot],
  );

  const travel = useCallback(
    (from, to) => {
      if (!from.current.length) return;
      const entry = from.current[from.current.length - 1];
      from.current = from.current.slice(0, -1);
      to.current = [...to.current, snapshot()];
      lastGroup.current = null;
      pendingPositions.current = { ...entry.positions };
      setMessage(null);
      setSelectedEdge(null);
      specRef.current = entry.spec;
      setSpecState(entry.spec);
      setHistoryVersion((v) => v + 1);
    },
    [snapshot],
  );
  const undo = useCallback(() => travel(past, future), [travel]);
  const redo = useCallback(() => travel(future, past), [travel]);

  useEffect(() => {
    const onKey = (e) => {
      if (!(e.ctrlKey || e.metaKey) || e.altKey) return;
      const target = e.target;
      const typing = target && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
      if (typing) return; // the field's own undo
      const key = e.key.toLowerCase();
      if (key === "z" && !e.shiftKey) undo();
      else if ((key === "z" && e.shiftKey) || key === "y") redo();
      else return;
      e.preventDefault();
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, [undo, redo]);

  const showError = useCallback((exc, prefix = "") => {
    if (exc instanceof ApiError) setMessage({ kind: "error", text: prefix + exc.message, hint: exc.hint });
    else setMessage({ kind: "error", text: prefix + String((exc && exc.message) || exc), hint: "" });
  }, []);
  const clearMessage = useCallback(() => setMessage(null), []);

  // --- the catalog and the templates, once
  useEffect(() => {
    api
      .particles()
      .then((data) => setCatalog(makeCatalog(data)))
      .catch((exc) => {
        setCatalogError(exc);
        showError(exc, "Could not load the particles: ");
      });
    api
      .templates()
      .then((data) => {
        const list = data.templates || [];
        setTemplates(list);
        if (list.length) setTemplateName((n) => n || (list.find((t) => t.name === "t2v") || list[0]).name);
      })
      .catch((exc) => showError(exc, "Could not load the templates: "));
  }, [showError]);

  // --- the spec `sora studio SPEC|TEMPLATE` was started with, once the palette is there (for its ports)
  const sessionLoaded = useRef(false);

  const views = useMemo(() => computeViews(spec, catalog, check), [spec, catalog, check]);

  // --- check after every change (debounced); stale answers are dropped
  useEffect(() => {
    const seq = ++checkSeq.current;
    if (!Object.keys(spec.nodes || {}).length) {
      setCheck(null);
      setCheckFailed(null);
      setCheckedSpec(spec);
      return undefined;
    }
    const timer = setTimeout(async () => {
      try {
        const result = await api.check(spec);
        if (seq !== checkSeq.current) return;
        setCheck(result);
        setCheckFailed(null);
        setCheckedSpec(spec);
      } catch (exc) {
        if (seq !== checkSeq.current) return;
        setCheckFailed(exc);
        setCheckedSpec(spec);
        showError(exc, "Check failed: ");
      }
    }, CHECK_DELAY_MS);
    return () => clearTimeout(timer);
  }, [spec, showError]);
  const checking = checkedSpec !== spec;
  // links to ports a node no longer has: not drawable, so listed with a button that removes each
  const detached = useMemo(() => (checking || !check ? [] : S.detachedLinks(spec, views)), [checking, check, spec, views]);

  // --- React Flow nodes follow the spec, keeping positions, sizes and selection
  useEffect(() => {
    const pending = pendingPositions.current;
    pendingPositions.current = {};
    const select = pendingSelect.current;
    pendingSelect.current = null;
    const exposedIn = {};
    for (const [name, targets] of Object.entries(S.inputTargets(spec))) {
      for (const t of targets) {
        const p = S.parseEndpoint(t);
        if (p) ((exposedIn[p.node] ||= {})[p.port] ||= []).push(name);
      }
    }
    const exposedOut = {};
    for (const [name, source] of Object.entries(spec.outputs || {})) {
      const p = S.parseEndpoint(source);
      if (p) ((exposedOut[p.node] ||= {})[p.port] ||= []).push(name);
    }
    setNodes((prev) => {
      const byId = Object.fromEntries(prev.map((n) => [n.id, n]));
      return Object.keys(spec.nodes || {}).map((name, i) => {
        const view = views[name];
        const data = {
          ...view,
          run: run && run.nodes ? run.nodes[name] || null : null,
          exposedInputs: exposedIn[name] || {},
          exposedOutputs: exposedOut[name] || {},
        };
        const old = byId[name];
        const position = pending[name] || (old ? old.position : { x: 40 * i, y: 40 * i });
        const node = old ? { ...old, position, data } : { id: name, type: "particle", position, data };
        if (select) node.selected = name === select;
        return node;
      });
    });
  }, [spec, views, run, setNodes]);

  // the view moves on the next frame; a count of fits not yet done tells scripts when ports stay put
  const fitTheView = useCallback(() => {
    fitsInFlight.current += 1;
    requestAnimationFrame(() => {
      Promise.resolve(rf.fitView({ padding: 0.12, maxZoom: 1.1 })).finally(() => {
        fitsInFlight.current -= 1;
      });
    });
  }, [rf]);

  // fit the view once a loaded graph is measured
  useEffect(() => {
    if (pendingFit.current && nodesInitialized && nodes.length) {
      pendingFit.current = false;
      fitTheView();
    }
  }, [nodesInitialized, nodes, fitTheView]);

  const selectedNode = useMemo(() => {
    const n = nodes.find((x) => x.selected);
    return n && spec.nodes && spec.nodes[n.id] ? n.id : null;
  }, [nodes, spec]);

  // --- fits of the selected node (they depend on the graph)
  useEffect(() => {
    if (!selectedNode) {
      setFits(null);
      return undefined;
    }
    let live = true;
    const timer = setTimeout(() => {
      api
        .fits(spec, selectedNode)
        .then((result) => live && setFits({ ...result, node: result.node || selectedNode }))
        .catch((exc) => live && showError(exc, "Could not list the particles that fit: "));
    }, CHECK_DELAY_MS);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [selectedNode, spec, showError]);

  // --- edges: the spec's, plus dashed component bindings (not editable as edges)
  const problemText = useMemo(() => ((check && check.problems) || []).join("\n"), [check]);
  const edges = useMemo(() => {
    const out = [];
    const seen = new Set();
    for (const text of spec.edges || []) {
      const p = S.parseEdge(text);
      if (!p || !views[p.source] || !views[p.target]) continue;
      let id = text;
      for (let i = 2; seen.has(id); i++) id = `${text}#${i}`;
      seen.add(id);
      const bad = problemText.includes(`edge ${S.edgeText(p.source, p.sourcePort, p.target, p.targetPort)}`);
      out.push({
        id,
        source: p.source,
        sourceHandle: p.sourcePort,
        target: p.target,
        targetHandle: p.targetPort,
        selected: selectedEdge === id,
        data: { text },
        className: bad ? "edge-bad" : "",
        interactionWidth: 16,
      });
    }
    for (const [name, node] of Object.entries(spec.nodes || {})) {
      for (const [slot, target] of Object.entries(node.components || {})) {
        if (!views[target]) continue;
        out.push({
          id: `component:${name}.${slot}`,
          source: target,
          sourceHandle: "__component_of",
          target: name,
          targetHandle: "__components",
          selectable: false,
          deletable: false,
          focusable: false,
          className: "edge-component",
          label: slot,
          labelStyle: { fontSize: 10 },
        });
      }
    }
    return out;
  }, [spec, views, selectedEdge, problemText]);

  const onEdgesChange = useCallback((changes) => {
    for (const c of changes) {
      if (c.type === "select") setSelectedEdge((cur) => (c.selected ? c.id : cur === c.id ? null : cur));
      if (c.type === "remove") setSelectedEdge((cur) => (cur === c.id ? null : cur));
    }
  }, []);

  // --- actions (each one clears the last message)
  const loadSpec = useCallback(
    (data, { record = true } = {}) => {
      let next;
      try {
        next = typeof data === "string" ? parse(data) : copy(data);
      } catch (exc) {
        setMessage({ kind: "error", text: `not a pipeline spec: ${exc.message}`, hint: "" });
        return;
      }
      if (!next || typeof next !== "object" || !next.nodes || typeof next.nodes !== "object") {
        setMessage({ kind: "error", text: "not a pipeline spec: it has no nodes", hint: "" });
        return;
      }
      setMessage(null);
      const staticViews = computeViews(next, catalog, null);
      pendingPositions.current = S.layout(next, (n) => estimatedHeight(staticViews[n]));
      pendingFit.current = true;
      runId.current = null;
      setRun(null);
      setStarting(false);
      setCheck(null);
      setSelectedEdge(null);
      setFits(null);
      if (record) {
        past.current = [...past.current, snapshot()].slice(-HISTORY_LIMIT);
        future.current = [];
        lastGroup.current = null;
        setHistoryVersion((v) => v + 1);
      }
      setNodes([]);
      updateSpec(next, { record: false });
    },
    [catalog, setNodes, snapshot, updateSpec],
  );

  useEffect(() => {
    if (sessionLoaded.current || (!catalog && !catalogError)) return;
    sessionLoaded.current = true;
    api
      .session()
      .then((data) => {
        if (data && data.spec && !Object.keys(specRef.current.nodes || {}).length) loadSpec(data.spec, { record: false });
        if (data && data.source) setTemplateName((n) => (templatesRef.current.some((t) => t.name === data.source) ? data.source : n));
      })
      .catch((exc) => {
        if (exc.status !== 404) showError(exc, "Could not read the spec the studio was started with: ");
      });
  }, [catalog, catalogError, loadSpec, showError]);

  const connectEdge = useCallback(
    async (text) => {
      setMessage(null);
      const parsed = S.parseEdge(text);
      if (!parsed) {
        const reason = `${JSON.stringify(text)} is not an edge: write 'node.port -> node.port'`;
        setMessage({ kind: "refused", text: reason, hint: "" });
        return { ok: false, reason };
      }
      const canonical = S.edgeText(parsed.source, parsed.sourcePort, parsed.target, parsed.targetPort);
      const current = specRef.current;
      if ((current.edges || []).some((e) => e === text || e === canonical)) {
        const reason = `edge ${canonical} is in the graph already`;
        setMessage({ kind: "refused", text: `Connection refused: ${reason}`, hint: "" });
        return { ok: false, reason };
      }
      try {
        const answer = await api.connect(current, canonical);
        if (answer.ok) {
          updateSpec((s) => S.addEdge(s, canonical));
          return { ok: true, reason: null };
        }
        const reason = answer.reason || "refused";
        setMessage({ kind: "refused", text: `Connection refused: ${reason}`, hint: answer.hint || "" });
        return { ok: false, reason };
      } catch (exc) {
        showError(exc, "Could not check the connection: ");
        return { ok: false, reason: exc.message };
      }
    },
    [showError, updateSpec],
  );

  const onConnect = useCallback(
    (params) => {
      if (!params.sourceHandle || !params.targetHandle) return;
      connectEdge(S.edgeText(params.source, params.sourceHandle, params.target, params.targetHandle));
    },
    [connectEdge],
  );

  const deleteNodes = useCallback(
    (names) => {
      setMessage(null);
      updateSpec((s) => S.removeNodes(s, names));
    },
    [updateSpec],
  );

  const deleteEdges = useCallback(
    (texts) => {
      setMessage(null);
      setSelectedEdge(null);
      updateSpec((s) => S.removeEdges(s, texts));
    },
    [updateSpec],
  );

  const onDelete = useCallback(
    ({ nodes: gone, edges: cut }) => {
      const names = gone.map((n) => n.id);
      const texts = cut.map((e) => e.data && e.data.text).filter(Boolean);
      setMessage(null);
      setSelectedEdge(null);
      updateSpec((s) => S.removeNodes(S.removeEdges(s, texts), names));
    },
    [updateSpec],
  );

  const addParticle = useCallback(
    (particle, position) => {
      setMessage(null);
      const info = catalog && catalog.byName[particle];
      const name = S.uniqueNodeName(specRef.current, info ? info.short || particle.split(":").pop() : particle.split(":").pop());
      let at = position;
      if (!at) {
        const box = wrapper.current ? wrapper.current.getBoundingClientRect() : { left: 0, top: 0, width: 600, height: 400 };
        const count = Object.keys(specRef.current.nodes || {}).length;
        at = rf.screenToFlowPosition({
          x: box.left + box.width / 2 - 90 + (count % 5) * 24,
          y: box.top + box.height / 3 + (count % 5) * 24,
        });
      }
      pendingPositions.current[name] = at;
      pendingSelect.current = name;
      updateSpec((s) => S.addNode({ ...s, nodes: s.nodes || {} }, name, particle));
      return name;
    },
    [catalog, rf, updateSpec],
  );

  const onDrop = useCallback(
    (e) => {
      const particle = e.dataTransfer.getData(DRAG_TYPE);
      if (!particle) return;
      e.preventDefault();
      addParticle(particle, rf.screenToFlowPosition({ x: e.clientX - 60, y: e.clientY - 20 }));
    },
    [addParticle, rf],
  );
  const onDragOver = useCallback((e) => {
    if (Array.from(e.dataTransfer.types || []).includes(DRAG_TYPE)) {
      e.preventDefault();
      e.dataTransfer.dropEffect = "copy";
    }
  }, []);

  const actions = useMemo(() => {
    const act =
      (fn) =>
      (...args) => {
        setMessage(null);
        updateSpec((s) => fn(s, ...args));
      };
    return {
      deleteNodes,
      renameNode: (from, to) => {
        const node = rf.getNode(from);
        if (node) pendingPositions.current[to] = node.position;
        pendingSelect.current = to;
        setMessage(null);
        updateSpec((s) => S.renameNode(s, from, to));
      },
      swap: act((s, name, particle, proposed) => S.swapParticle(s, name, particle, proposed)),
      setConfig: (name, field, value, isFloat) => {
        setMessage(null);
        updateSpec((s) => S.setConfig(s, name, field, value, isFloat), { group: `config:${name}.${field}` });
      },
      setComponent: act((s, name, slot, target) => S.setComponent(s, name, slot, target)),
      setWeights: act((s, name, value) =>
        S.updateNode(s, name, (node) => {
          const copy = { ...node };
          if (value === "") delete copy.weights;
          else copy.weights = value;
          return copy;
        }),
      ),
      exposeInput: act((s, name, target) => S.exposeInput(s, name, target)),
      unexposeInput: act((s, name, target) => S.unexposeInput(s, name, target)),
      exposeOutput: act((s, name, source) => S.exposeOutput(s, name, source)),
      unexposeOutput: act((s, name) => S.unexposeOutput(s, name)),
    };
  }, [deleteNodes, rf, updateSpec]);

  const loadTemplate = useCallback(async () => {
    if (!templateName) return;
    setMessage(null);
    try {
      const { spec: data } = await api.template(templateName);
      loadSpec(data);
    } catch (exc) {
      showError(exc, `Could not load template ${templateName}: `);
    }
  }, [templateName, loadSpec, showError]);

  const importFile = useCallback(
    async (e) => {
      const input = e.target;
      const file = input.files && input.files[0];
      if (!file) return;
      setMessage(null);
      try {
        const text = await file.text();
        const { spec: data } = await api.importSpec(text);
        loadSpec(data);
      } catch (exc) {
        showError(exc, `Could not import ${file.name}: `);
      } finally {
        input.value = "";
      }
    },
    [loadSpec, showError],
  );

  const fileName = `${String(spec.name || "pipeline").replace(/[^A-Za-z0-9_.-]+/g, "_")}.yaml`;
  const exportSpec = useCallback(async () => {
    setMessage(null);
    try {
      const { yaml } = await api.exportSpec(specRef.current);
      setExported(yaml);
      download(yaml, fileName);
    } catch (exc) {
      showError(exc, "Could not export: ");
    }
  }, [fileName, showError]);

  const startRun = useCallback(
    async (form) => {
      setMessage(null);
      setStarting(true);
      setRun(null);
      runId.current = null;
      let id;
      try {
        id = (await api.startRun(form)).id;
      } catch (exc) {
        setStarting(false);
        showError(exc, "Could not start the run: ");
        return;
      }
      runId.current = id;
      const started = performance.now();
      let misses = 0;
      const tick = async () => {
        if (runId.current !== id) return;
        try {
          const state = await api.run(id);
          if (runId.current !== id) return;
          misses = 0;
          const ended = state.status === "done" || state.status === "failed";
          const elapsed = ended ? (typeof state.seconds === "number" ? state.seconds : (performance.now() - started) / 1000) : null;
          setRun({ ...state, elapsed });
          setStarting(false);
          if (!ended) setTimeout(tick, POLL_MS);
          else if (state.status === "failed") {
            const err = state.error || {};
            setMessage({ kind: "error", text: `The run failed: ${err.message || "unknown error"}`, hint: err.hint || "" });
          }
        } catch (exc) {
          if (++misses >= 5) {
            setStarting(false);
            showError(exc, "Lost the run: ");
            return;
          }
          setTimeout(tick, POLL_MS * 3);
        }
      };
      tick();
    },
    [showError],
  );

  // --- relayout the current graph with the measured node sizes
  const relayout = useCallback(() => {
    const heights = Object.fromEntries(rf.getNodes().map((n) => [n.id, n.measured ? n.measured.height : undefined]));
    pendingPositions.current = S.layout(specRef.current, (n) => heights[n] || estimatedHeight(views[n]));
    pendingFit.current = true;
    setNodes((prev) => prev.map((n) => ({ ...n, position: pendingPositions.current[n.id] || n.position })));
    pendingPositions.current = {};
    fitTheView();
  }, [rf, setNodes, views, fitTheView]);

  // --- the test hook
  const hook = useRef({});
  hook.current = { connectEdge, loadSpec, check, checking, run, addParticle, nodesInitialized };
  useEffect(() => {
    window.soraStudio = {
      getSpec: () => S.clone(specRef.current),
      connect: (edge) => hook.current.connectEdge(edge),
      loadSpec: (data) => hook.current.loadSpec(data),
      addNode: (particle, position) => hook.current.addParticle(particle, position),
      getCheck: () => S.clone(hook.current.check),
      getRun: () => S.clone(hook.current.run),
      // true once the loaded graph is drawn, measured and fitted: its ports no longer move
      laidOut: () =>
        !Object.keys(specRef.current.nodes || {}).length ||
        (hook.current.nodesInitialized && !pendingFit.current && fitsInFlight.current === 0),
      settled: async (timeoutMs = 10000) => {
        const end = Date.now() + timeoutMs;
        while (hook.current.checking && Date.now() < end) await new Promise((r) => setTimeout(r, 25));
        return !hook.current.checking;
      },
    };
    return () => {
      delete window.soraStudio;
    };
  }, []);

  const problems = (check && check.problems) || [];
  const nodeCount = Object.keys(spec.nodes || {}).length;
  const infoEntry = infoParticle && catalog ? catalog.byName[infoParticle] : null;
  const running = starting || (run && run.status !== "done" && run.status !== "failed");
  let checkBadge;
  if (!nodeCount) checkBadge = <span className="badge">empty</span>;
  else if (checking) checkBadge = <span className="badge checking">checking…</span>;
  else if (checkFailed) checkBadge = <span className="badge bad">check failed</span>;
  else if (check && check.ok) checkBadge = <span className="badge ok">✓ checks out</span>;
  else checkBadge = <span className="badge bad">{problems.length} problem{problems.length === 1 ? "" : "s"}</span>;

  return (
    <div className="app">
      <header className="toolbar">
        <div className="brand">
          <span className="logo">◈</span> Sora Studio
        </div>
        <input
          className="spec-name"
          data-testid="spec-name"
          value={spec.name ?? ""}
          placeholder="pipeline name"
          title="the pipeline's name (and the exported file's)"
          onChange={(e) => updateSpec((s) => ({ ...s, name: e.target.value }), { group: "name" })}
        />
        {checkBadge}
        <div className="toolbar-group">
          <select
            data-testid="template-select"
            value={templateName}
            onChange={(e) => setTemplateName(e.target.value)}
            title={(templates.find((t) => t.name === templateName) || {}).description || ""}
          >
            {templates.length === 0 && <option value="">(no templates)</option>}
            {templates.map((t) => (
              <option key={t.name} value={t.name} title={t.description}>
                {t.name} ({(t.inputs || []).join(", ")} → {(t.outputs || []).join(", ")})
              </option>
            ))}
          </select>
          <button data-testid="load-template" onClick={loadTemplate} disabled={!templateName}>
            Load
          </button>
        </div>
        <div className="toolbar-group">
          <button data-testid="new-spec" onClick={() => loadSpec(S.emptySpec())} title="start an empty pipeline">
            New
          </button>
          <label className="button file-button" title="import a YAML or JSON spec">
            Import
            <input type="file" data-testid="import-file" accept=".yaml,.yml,.json" onChange={importFile} />
          </label>
          <button data-testid="export-button" onClick={exportSpec} disabled={!nodeCount}>
            Export
          </button>
          <button data-testid="layout-button" onClick={relayout} disabled={!nodeCount} title="arrange by dependency level">
            Layout
          </button>
        </div>
        <div className="toolbar-group">
          <button data-testid="undo-button" onClick={undo} disabled={!past.current.length} title="undo (Ctrl+Z)">
            Undo
          </button>
          <button data-testid="redo-button" onClick={redo} disabled={!future.current.length} title="redo (Ctrl+Shift+Z or Ctrl+Y)">
            Redo
          </button>
        </div>
      </header>
      <div className="main">
        <aside className="studio-left">
          <Palette catalog={catalog} error={catalogError} selected={infoParticle} onSelect={setInfoParticle} />
          {infoEntry && <InfoPanel particle={infoEntry} onClose={() => setInfoParticle(null)} onAdd={(p) => addParticle(p)} />}
        </aside>
        <section className="centre">
          <div className="canvas" data-testid="canvas" ref={wrapper} onDrop={onDrop} onDragOver={onDragOver}>
            <ReactFlow
              nodes={nodes}
              edges={edges}
              nodeTypes={nodeTypes}
              onNodesChange={onNodesChange}
              onEdgesChange={onEdgesChange}
              onConnect={onConnect}
              onDelete={onDelete}
              deleteKeyCode={["Delete", "Backspace"]}
              minZoom={0.15}
              maxZoom={2.5}
              defaultViewport={{ x: 40, y: 40, zoom: 0.9 }}
              connectionRadius={28}
              defaultEdgeOptions={{ type: "default" }}
            >
              <Background gap={18} size={1} />
              <Controls showInteractive={false} />
              <MiniMap style={{ width: 160, height: 110 }} pannable zoomable nodeColor={(n) => kindColour(n.data && n.data.kind)} />
            </ReactFlow>
            {!nodeCount && (
              <div className="canvas-empty">
                Drag particles here from the palette, load a template, or import a spec.
              </div>
            )}
            {message && <Message message={message} onClose={clearMessage} />}
          </div>
          <div className="studio-bottom">
            <div className="problems-panel">
              <div className="panel-title">
                Problems {checking && nodeCount > 0 && <span className="muted small">checking…</span>}
              </div>
              {checkFailed && <div className="problem-error">The check failed: {checkFailed.message}</div>}
              <ul className="problems" data-testid="problems">
                {problems.map((p, i) => (
                  <li key={i}>{p}</li>
                ))}
              </ul>
              {detached.length > 0 && (
                <ul className="detached" data-testid="detached">
                  {detached.map((link) => (
                    <li key={link.label}>
                      <span className="muted small">not drawn (no such port):</span> {link.label}{" "}
                      <button
                        data-testid="remove-detached"
                        onClick={() => {
                          setMessage(null);
                          updateSpec((s) => S.removeLink(s, link));
                        }}
                      >
                        Remove
                      </button>
                    </li>
                  ))}
                </ul>
              )}
              {nodeCount > 0 && check && check.ok && problems.length === 0 && (
                <div className="ok-note">✓ The pipeline checks out: every port is fed and every edge fits.</div>
              )}
            </div>
            <div className="run-panel">
              <RunForm spec={spec} views={views} running={running} onRun={startRun} />
              <RunStatus run={run} starting={starting} />
            </div>
            <Outputs run={run} />
          </div>
        </section>
        <aside className="studio-right">
          {selectedNode ? (
            <SidePanel
              key={selectedNode}
              view={views[selectedNode]}
              spec={spec}
              views={views}
              fits={fits}
              actions={actions}
            />
          ) : selectedEdge && edges.some((e) => e.id === selectedEdge) ? (
            <EdgePanel
              edge={(edges.find((e) => e.id === selectedEdge).data || {}).text}
              onDelete={(text) => deleteEdges([text])}
            />
          ) : (
            <div className="side-empty">
              <div className="panel-title">Pipeline</div>
              <label className="field-label" htmlFor="spec-description">
                Description
              </label>
              <textarea
                id="spec-description"
                data-testid="spec-description"
                value={spec.description ?? ""}
                onChange={(e) => updateSpec((s) => ({ ...s, description: e.target.value }), { group: "description" })}
              />
              <p className="muted small">
                {nodeCount} node{nodeCount === 1 ? "" : "s"}, {(spec.edges || []).length} edge
                {(spec.edges || []).length === 1 ? "" : "s"}. Select a node to edit its particle, config, components
                and pipeline inputs/outputs; select an edge to delete it (or press Delete).
              </p>
            </div>
          )}
        </aside>
      </div>
      {exported != null && (
        <ExportDialog
          text={exported}
          fileName={fileName}
          onDownload={() => download(exported, fileName)}
          onClose={() => setExported(null)}
        />
      )}
    </div>
  );
}

export default function App() {
  return (
    <ReactFlowProvider>
      <Studio />
    </ReactFlowProvider>
  );
}
