#include "graph/graph.h"

#include <algorithm>
#include <queue>

namespace nibble {

int Graph::AddValue(const std::string& n) {
  auto it = by_name_.find(n);
  if (it != by_name_.end() && !n.empty()) return it->second;
  Value v;
  v.name = n;
  values.push_back(std::move(v));
  int id = static_cast<int>(values.size()) - 1;
  if (!n.empty()) by_name_[n] = id;
  return id;
}

int Graph::AddConstant(const std::string& n, Tensor t) {
  int id = AddValue(UniqueName(n));
  Value& v = values[id];
  v.dtype = t.dtype();
  v.has_shape = true;
  v.shape = t.shape();
  v.dim_params.assign(v.shape.size(), "");
  v.constant = std::move(t);
  return id;
}

int Graph::FindValue(const std::string& n) const {
  auto it = by_name_.find(n);
  return it == by_name_.end() ? -1 : it->second;
}

std::string Graph::UniqueName(const std::string& base) {
  if (!by_name_.count(base)) return base;
  for (int i = 1;; ++i) {
    std::string c = base + "_" + std::to_string(i);
    if (!by_name_.count(c)) return c;
  }
}

int Graph::AddNode(Node n) {
  nodes.push_back(std::move(n));
  int id = static_cast<int>(nodes.size()) - 1;
  for (int o : nodes[id].outputs)
    if (o >= 0) values[o].producer = id;
  return id;
}

void Graph::RebuildIndex() {
  by_name_.clear();
  for (size_t i = 0; i < values.size(); ++i) {
    values[i].producer = -1;
    if (!values[i].name.empty()) by_name_[values[i].name] = static_cast<int>(i);
  }
  for (size_t n = 0; n < nodes.size(); ++n) {
    for (int o : nodes[n].outputs) {
      if (o < 0) continue;
      NIBBLE_CHECK(values[o].producer < 0 && !values[o].is_constant(), path, ": value '", values[o].name,
                   "' is produced twice (", Where(static_cast<int>(n)), ")");
      values[o].producer = static_cast<int>(n);
    }
  }
}

std::vector<std::vector<int>> Graph::Consumers() const {
  std::vector<std::vector<int>> c(values.size());
  for (size_t n = 0; n < nodes.size(); ++n)
    for (int i : nodes[n].inputs)
      if (i >= 0 && (c[i].empty() || c[i].back() != static_cast<int>(n))) c[i].push_back(static_cast<int>(n));
  return c;
}

void Graph::TopologicalSort() {
  RebuildIndex();
  const size_t n = nodes.size();
  std::vector<int> indegree(n, 0);
  std::vector<std::vector<int>> succ(n);
  for (size_t i = 0; i < n; ++i) {
    for (int in : nodes[i].inputs) {
      if (in < 0) continue;
      int p = values[in].producer;
      if (p >= 0) {
        succ[p].push_back(static_cast<int>(i));
        ++indegree[i];
      }
    }
  }
  // A min-heap on the original index keeps the model's own order where possible.
  std::priority_queue<int, std::vector<int>, std::greater<int>> ready;
  for (size_t i = 0; i < n; ++i)
    if (indegree[i] == 0) ready.push(static_cast<int>(i));
  std::vector<int> order;
  while (!ready.empty()) {
    int i = ready.top();
    ready.pop();
    order.push_back(i);
    for (int s : succ[i])
      if (--indegree[s] == 0) ready.push(s);
  }
  if (order.size() != n) {
    for (size_t i = 0; i < n; ++i)
      if (indegree[i] > 0) Fail(Where(static_cast<int>(i)), ": the graph has a cycle through this node");
  }
  std::vector<Node> sorted;
  sorted.reserve(n);
  for (int i : order) sorted.push_back(std::move(nodes[i]));
  nodes = std::move(sorted);
  RebuildIndex();
}

void Graph::RemoveNodes(const std::vector<bool>& remove) {
  std::vector<Node> kept;
  for (size_t i = 0; i < nodes.size(); ++i)
    if (!remove[i]) kept.push_back(std::move(nodes[i]));
  nodes = std::move(kept);
  // Compact values: keep those still referenced.
  std::vector<char> used(values.size(), 0);
  for (int v : inputs) used[v] = 1;
  for (int v : outputs) used[v] = 1;
  for (const Node& nd : nodes) {
    for (int v : nd.inputs)
      if (v >= 0) used[v] = 1;
    for (int v : nd.outputs)
      if (v >= 0) used[v] = 1;
  }
  std::vector<int> remap(values.size(), -1);
  std::vector<Value> nv;
  for (size_t i = 0; i < values.size(); ++i) {
    if (!used[i]) continue;
    remap[i] = static_cast<int>(nv.size());
    nv.push_back(std::move(values[i]));
  }
  values = std::move(nv);
  auto fix = [&](std::vector<int>& ids) {
    for (int& v : ids)
      if (v >= 0) v = remap[v];
  };
  fix(inputs);
  fix(outputs);
  for (Node& nd : nodes) {
    fix(nd.inputs);
    fix(nd.outputs);
  }
  RebuildIndex();
}

void Graph::ReplaceUses(int from, int to) {
  for (Node& nd : nodes)
    for (int& v : nd.inputs)
      if (v == from) v = to;
  for (int& v : outputs)
    if (v == from) v = to;
}

bool Graph::IsGraphOutput(int value) const {
  return std::find(outputs.begin(), outputs.end(), value) != outputs.end();
}

std::string Graph::Where(const Node& nd) const {
  return Cat(path.empty() ? "model" : path, ": node '", nd.name, "' (", nd.op_type, ")");
}

std::string Graph::Where(int node) const { return Where(nodes[node]); }

}  // namespace nibble
