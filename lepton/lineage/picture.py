"""A picture of the lineage below one node: what a steward looks at first."""

from __future__ import annotations

from pathlib import Path

COLOURS = {"input_file": "#9e9e9e", "record_batch": "#90caf9", "clean_batch": "#64b5f6", "governed_batch": "#42a5f5",
           "annotation_tasks": "#ffcc80", "annotation_batch": "#ffa726", "label_schema": "#ffe082",
           "validation_result": "#a5d6a7", "dataset_version": "#ce93d8", "augmented_dataset": "#e1bee7",
           "training_run": "#ef9a9a", "model_version": "#e57373", "pii_findings": "#80deea",
           "prediction_batch": "#b39ddb", "alias_change": "#fff59d", "erasure": "#212121", "sign_off": "#c5e1a5",
           "model_evaluation": "#ffcc80", "promotion_decision": "#ffe082"}


def draw_upstream(walk: list, nid: str, path: Path) -> Path:
    """`walk`: LineageStore.upstream(nid), which the caller already holds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import networkx as nx

    graph = nx.DiGraph()
    for depth, node, kind, child in walk:
        graph.add_node(node.node_id, kind=node.kind, depth=depth)
        if child:
            graph.add_edge(node.node_id, child, kind=kind)
    for _, data in graph.nodes(data=True):
        data["layer"] = -data["depth"]
    pos = nx.multipartite_layout(graph, subset_key="layer")
    fig, ax = plt.subplots(figsize=(14, max(4, 0.45 * graph.number_of_nodes() ** 0.9)))
    nx.draw_networkx_edges(graph, pos, ax=ax, arrows=True, edge_color="#777777", arrowsize=10)
    nx.draw_networkx_nodes(graph, pos, ax=ax, node_size=420,
                           node_color=[COLOURS.get(d["kind"], "#cccccc") for _, d in graph.nodes(data=True)])
    labels = {n: f"{d['kind']}\n{n.split(':', 1)[1][:18]}" for n, d in graph.nodes(data=True)}
    nx.draw_networkx_labels(graph, pos, labels, ax=ax, font_size=6)
    ax.set_title(f"lineage of {nid}")
    ax.axis("off")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
