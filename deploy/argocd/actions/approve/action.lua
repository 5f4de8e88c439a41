-- Approve: one more approval in spec.control.approvals ends the pause.
local st = obj.status or {}
if st.phase ~= "Paused" then
  error("approve: the release is " .. (st.phase or "not started") .. "; only a Paused release waits for approval", 0)
end
if st.approved == true then
  error("approve: this pause is approved already", 0)
end
if st.observedGeneration ~= nil and obj.metadata.generation ~= nil
  and obj.metadata.generation > st.observedGeneration then
  error("approve: gitcanary has not seen the last change yet; an approval now would also end the next pause", 0)
end
obj.spec.control = obj.spec.control or {}
obj.spec.control.approvals = (obj.spec.control.approvals or 0) + 1
return obj
