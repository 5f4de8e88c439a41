-- Set weight 100%: spec.control.weight routes 100% to the new version.
local st = obj.status or {}
local phase = st.phase
if phase ~= "Routing" and phase ~= "Progressing" and phase ~= "Paused" and phase ~= "Analyzing" then
  error("set weight: the release is " .. (phase or "not started") .. "; the weight can be set while Routing, Progressing, Paused or Analyzing", 0)
end
local current = 0
for _, w in ipairs(st.weights or {}) do
  if w.version == obj.spec.version then
    current = w.weight or 0
  end
end
local target = 100
if target == current then
  error("set weight: " .. obj.spec.version .. " has " .. target .. "% already", 0)
end
obj.spec.control = obj.spec.control or {}
if obj.spec.control.weight == target then
  error("set weight: spec.control.weight is " .. target .. " already, and gitcanary acts on changes only", 0)
end
obj.spec.control.weight = target
return obj
