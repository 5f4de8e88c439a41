-- Approve: one more approval in spec.control.approvals ends the pause.
local st = obj.status or {}
local step = (obj.spec.steps or {})[(st.step or -1) + 1] or {}
local inconclusive = step.analysis ~= nil and st.analysis ~= nil and st.analysis.step == st.step
  and st.analysis.verdict == "Inconclusive"
if st.phase ~= "Paused" or ((step.pause == nil or step.pause.duration ~= nil) and not inconclusive) then
  error("approve: the release is " .. (st.phase or "not started") .. ", not paused until approved", 0)
end
if st.approved == true then
  error("approve: this pause is approved already", 0)
end
obj.spec.control = obj.spec.control or {}
local given = obj.spec.control.approvals or 0
if given > ((st.control or {}).approvals or 0) then
  error("approve: gitcanary has not acted on the last approval yet; another one would end the next pause too", 0)
end
obj.spec.control.approvals = given + 1
return obj
