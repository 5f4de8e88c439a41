-- Promote: spec.control.promote skips the remaining steps.
local phase = (obj.status or {}).phase
if phase ~= "Routing" and phase ~= "Progressing" and phase ~= "Paused" and phase ~= "Analyzing" then
  error("promote: the release is " .. (phase or "not started") .. "; it can be promoted while Routing, Progressing, Paused or Analyzing", 0)
end
obj.spec.control = obj.spec.control or {}
if obj.spec.control.promote == true then
  error("promote: requested already", 0)
end
obj.spec.control.promote = true
return obj
