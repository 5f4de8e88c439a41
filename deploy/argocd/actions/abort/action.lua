-- Abort: spec.control.abort abandons the release now.
local phase = (obj.status or {}).phase
if phase ~= "Preparing" and phase ~= "Routing" and phase ~= "Progressing" and phase ~= "Paused" and phase ~= "Analyzing" and phase ~= "Promoting" then
  error("abort: the release is " .. (phase or "not started") .. "; it can be aborted from Preparing up to Promoting", 0)
end
obj.spec.control = obj.spec.control or {}
if obj.spec.control.abort == true then
  error("abort: requested already", 0)
end
obj.spec.control.abort = true
return obj
