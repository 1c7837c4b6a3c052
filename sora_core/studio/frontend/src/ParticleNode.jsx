import React, { memo, useEffect } from "react";
import { Handle, Position, useUpdateNodeInternals } from "@xyflow/react";
import { kindColour, portText } from "./ports.js";

function PortRow({ side, name, port, exposed }) {
  const isInput = side === "input";
  const title = `${name}: ${portText(port)}${port.optional ? " (optional)" : ""}${
    port.description ? ` — ${port.description}` : ""
  }`;
  return (
    <div className={`port port-${side}${port.optional ? " port-optional" : ""}`} title={title}>
      <Handle
        type={isInput ? "target" : "source"}
        position={isInput ? Position.Left : Position.Right}
        id={name}
        data-port={name}
        data-side={side}
        className={`handle handle-${side}`}
        title={title}
      />
      <span className="port-label">{name}</span>
      {exposed && exposed.length > 0 && (
        <span className={`port-exposed port-exposed-${side}`} title={`pipeline ${side}: ${exposed.join(", ")}`}>
          {isInput ? `⇢ ${exposed.join(", ")}` : `${exposed.join(", ")} ⇢`}
        </span>
      )}
    </div>
  );
}

function ParticleNode({ data, selected }) {
  const updateNodeInternals = useUpdateNodeInternals();
  const inputs = Object.entries(data.inputs || {});
  const outputs = Object.entries(data.outputs || {});
  const signature = `${inputs.map(([k]) => k).join(",")}|${outputs.map(([k]) => k).join(",")}|${data.hasSlots}|${data.isComponent}`;
  useEffect(() => {
    updateNodeInternals(data.name);
  }, [signature, data.name, updateNodeInternals]);
  const run = data.run;
  const short = data.info ? data.info.short || data.info.name : data.particle;
  return (
    <div
      className={`sora-node${selected ? " selected" : ""}${data.error ? " has-error" : ""}${
        run ? ` run-${run.state}` : ""
      }`}
      data-testid="node"
      data-node={data.name}
      style={{ "--kind": kindColour(data.kind) }}
    >
      {data.hasSlots && (
        <Handle type="target" position={Position.Top} id="__components" className="handle-component" isConnectable={false} />
      )}
      <div className="node-header" title={`${data.particle}${data.info ? `\n${data.info.description}` : ""}`}>
        <div className="node-name">{data.name}</div>
        <div className="node-sub">
          <span className="node-particle">{short}</span>
          <span className="node-kind">{data.kind || "?"}</span>
        </div>
      </div>
      <div className="node-ports">
        <div className="node-inputs">
          {inputs.map(([name, port]) => (
            <PortRow key={name} side="input" name={name} port={port} exposed={data.exposedInputs[name]} />
          ))}
        </div>
        <div className="node-outputs">
          {outputs.map(([name, port]) => (
            <PortRow key={name} side="output" name={name} port={port} exposed={data.exposedOutputs[name]} />
          ))}
        </div>
      </div>
      {data.error && (
        <div className="node-error" title={data.error}>
          {data.error}
        </div>
      )}
      {run && (
        <div className="node-run">
          <span className={`node-state state-${run.state}`} data-testid="node-state">
            {run.state}
          </span>
          {run.state === "running" && run.steps && (
            <span className="node-steps" data-testid="node-steps" title={run.steps.of}>
              {run.steps.done}
              {run.steps.total ? `/${run.steps.total}` : ""}
              {run.steps.total ? (
                <span className="node-steps-bar">
                  <span style={{ width: `${Math.min(100, (100 * run.steps.done) / run.steps.total)}%` }} />
                </span>
              ) : null}
            </span>
          )}
          {run.seconds != null && (
            <span className="node-time" data-testid="node-time">
              {Number(run.seconds).toFixed(2)} s
            </span>
          )}
        </div>
      )}
      {data.isComponent && (
        <Handle type="source" position={Position.Bottom} id="__component_of" className="handle-component" isConnectable={false} />
      )}
    </div>
  );
}

export default memo(ParticleNode);
