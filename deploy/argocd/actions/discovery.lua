-- The actions on a gitcanary Release and whether they apply now: in the
-- phases in which gitcanary acts on each request of spec.control
-- (pkg/machine/control.go). Every action.lua checks the same and refuses
-- otherwise.
local spec = obj.spec or {}
local st = obj.status or {}
local control = spec.control or {}
local phase = st.phase or ""
local steerable = phase == "Routing" or phase == "Progressing" or phase == "Paused" or phase == "Analyzing"
local abortable = steerable or phase == "Preparing" or phase == "Promoting"

-- Approvals end only pauses without a duration, and the pause of an
-- Inconclusive analysis. One given while another waits to be acted on
-- (status.control counts those acted on) would end the next pause too.
local step = (spec.steps or {})[(st.step or -1) + 1] or {}
local inconclusive = step.analysis ~= nil and st.analysis ~= nil and st.analysis.step == st.step
  and st.analysis.verdict == "Inconclusive"
local awaitsApproval = phase == "Paused" and ((step.pause ~= nil and step.pause.duration == nil) or inconclusive)
  and st.approved ~= true
local pending = (control.approvals or 0) > ((st.control or {}).approvals or 0)

local current = 0
for _, w in ipairs(st.weights or {}) do
  if w.version == spec.version then
    current = w.weight or 0
  end
end

-- A weight action is useless when the new version has it already, and
-- does nothing when spec.control.weight asks for it already.
local function weight(target, name)
  return {
    disabled = not steerable or target == current or target == control.weight,
    displayName = name,
  }
end

local up = current + 10
if up > 100 then
  up = 100
end

local actions = {}
actions["approve"] = {
  disabled = not awaitsApproval or pending,
  displayName = "Approve: end the pause",
}
actions["promote"] = {
  disabled = not steerable or control.promote == true,
  displayName = "Promote: skip the remaining steps",
}
actions["abort"] = {
  disabled = not abortable or control.abort == true,
  displayName = "Abort: back to the stable version",
}
actions["weight-0"] = weight(0, "Set weight 0%")
actions["weight-plus-10"] = weight(up, "Set weight +10%")
actions["weight-50"] = weight(50, "Set weight 50%")
actions["weight-100"] = weight(100, "Set weight 100%")
return actions
