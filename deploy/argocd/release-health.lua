-- Argo CD health of a gitcanary Release (gitcanary.io/v1alpha1).
-- Argo CD runs it without Lua's string and math libraries.
local hs = {}
local spec = obj.spec or {}
local st = obj.status or {}

local function condition(kind)
  for _, c in ipairs(st.conditions or {}) do
    if c.type == kind then
      return c
    end
  end
  return nil
end

-- "Label (reason): message", leaving out what is empty.
local function explain(label, reason, message)
  if reason ~= nil and reason ~= "" then
    label = label .. " (" .. reason .. ")"
  end
  if message ~= nil and message ~= "" then
    label = label .. ": " .. message
  end
  return label
end

-- "...: v1=90 v2=10", the weights in status order.
local function withWeights(s)
  local parts = {}
  for _, w in ipairs(st.weights or {}) do
    table.insert(parts, tostring(w.version) .. "=" .. tostring(w.weight or 0))
  end
  if #parts == 0 then
    return s
  end
  return s .. ": " .. table.concat(parts, " ")
end

-- "step 2/5": status.step is the index of the step in progress, -1 before the first.
local index = st.step or -1
local stepOf = "step " .. (index + 1) .. "/" .. #(spec.steps or {})

local stalled = condition("Stalled")
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = explain("Stalled", stalled.reason, stalled.message)
  return hs
end

local phase = st.phase
if phase == nil or phase == "" then
  hs.status = "Progressing"
  hs.message = "waiting for gitcanary to pick the release up"
  return hs
end

if phase == "Promoted" then
  hs.status = "Healthy"
  hs.message = "Promoted: " .. tostring(spec.version) .. " at 100%"
  return hs
end

if phase == "Abandoned" then
  hs.status = "Degraded"
  hs.message = explain("Abandoned", st.reason, st.message)
  return hs
end

if phase == "Paused" then
  local step = (spec.steps or {})[index + 1] or {}
  local pause = step.pause or {}
  local run = st.analysis or {}
  if step.analysis ~= nil and run.step == index and run.verdict == "Inconclusive" and st.approved ~= true then
    hs.status = "Suspended"
    hs.message = withWeights(explain("Paused at " .. stepOf .. ", analysis Inconclusive", run.reason, nil) ..
      ", until approved (run the approve action) or aborted")
    return hs
  end
  -- status.control counts the approvals gitcanary has acted on.
  local given = (spec.control or {}).approvals or 0
  local used = (st.control or {}).approvals or 0
  if st.approved == true then
    hs.status = "Progressing"
    hs.message = withWeights("Paused at " .. stepOf .. ", approved; resuming")
  elseif pause.duration ~= nil then
    local since = ""
    if st.pausedAt ~= nil then
      since = " (since " .. st.pausedAt .. ")"
    end
    hs.status = "Suspended"
    hs.message = withWeights("Paused at " .. stepOf .. " for " .. pause.duration .. since)
  elseif given > used then
    hs.status = "Progressing"
    hs.message = withWeights("Paused at " .. stepOf .. ", approval given; waiting for gitcanary")
  else
    hs.status = "Suspended"
    hs.message = withWeights("Paused at " .. stepOf .. " until approved (run the approve action)")
  end
  return hs
end

local label = phase .. " " .. stepOf
if phase == "Abandoning" or phase == "Reverting" then
  label = explain(label, st.reason, nil)
end
hs.status = "Progressing"
hs.message = withWeights(label)
return hs
