#include "graph/passes.h"

namespace nibble {

bool DeadNodeEliminationPass(Graph& g) {
  std::vector<char> needed(g.values.size(), 0);
  for (int v : g.outputs) needed[v] = 1;
  std::vector<bool> remove(g.nodes.size(), false);
  bool changed = false;
  // Nodes are in topological order, so one backward sweep sees every reader first.
  for (size_t k = g.nodes.size(); k-- > 0;) {
    const Node& n = g.nodes[k];
    bool live = false;
    for (int o : n.outputs) live |= o >= 0 && needed[o];
    if (!live) {
      remove[k] = true;
      changed = true;
      continue;
    }
    for (int i : n.inputs)
      if (i >= 0) needed[i] = 1;
  }
  if (changed) g.RemoveNodes(remove);
  return changed;
}

}  // namespace nibble
