//! Editing a rule tree by node address: what the rule builder does, without
//! a window, so the CLI and tests can do it too.
//!
//! A node's address is the list of child indexes from the root (`[]` is the
//! root, `[2, 0]` is `root.children[2].children[0]`).

use serde_json::json;

use super::rule::*;

/// `[2, 0]` → `root.children[2].children[0]`, the path engine results use.
pub fn path_string(addr: &[usize]) -> String {
    let mut s = String::from("root");
    for i in addr {
        s.push_str(&format!(".children[{i}]"));
    }
    s
}

/// The node at `addr`.
pub fn node_at<'a>(root: &'a Node, addr: &[usize]) -> Option<&'a Node> {
    match addr.split_first() {
        None => Some(root),
        Some((i, rest)) => match root {
            Node::Group(g) => g.children.get(*i).and_then(|c| node_at(c, rest)),
            _ => None,
        },
    }
}

pub fn node_at_mut<'a>(root: &'a mut Node, addr: &[usize]) -> Option<&'a mut Node> {
    match addr.split_first() {
        None => Some(root),
        Some((i, rest)) => match root {
            Node::Group(g) => g.children.get_mut(*i).and_then(|c| node_at_mut(c, rest)),
            _ => None,
        },
    }
}

fn group_mut<'a>(root: &'a mut Node, addr: &[usize]) -> Option<&'a mut Group> {
    match node_at_mut(root, addr)? {
        Node::Group(g) => Some(g),
        _ => None,
    }
}

/// A new condition as the builder adds it: "ordered at least once in the
/// last 30 days" — valid at once, and easy to change.
pub fn default_condition() -> Node {
    serde_json::from_value(json!({
        "type": "event", "event": "order", "aggregate": "count", "op": "at_least", "value": 1,
        "window": {"kind": "last_days", "days": 30}
    }))
    .expect("the default condition is a valid node")
}

pub fn empty_group(combine: Combine) -> Node {
    Node::Group(Group {
        not: false,
        combine,
        children: Vec::new(),
    })
}

/// Appends `node` to the group at `addr`; returns the new child's address.
pub fn add_child(root: &mut Node, addr: &[usize], node: Node) -> Option<Vec<usize>> {
    let g = group_mut(root, addr)?;
    g.children.push(node);
    let mut a = addr.to_vec();
    a.push(g.children.len() - 1);
    Some(a)
}

/// Removes the node at `addr` (not the root).
pub fn remove(root: &mut Node, addr: &[usize]) -> Option<Node> {
    let (last, parent) = addr.split_last()?;
    let g = group_mut(root, parent)?;
    (*last < g.children.len()).then(|| g.children.remove(*last))
}

/// Inserts a copy of the node at `addr` right after it.
pub fn duplicate(root: &mut Node, addr: &[usize]) -> Option<Vec<usize>> {
    let (last, parent) = addr.split_last()?;
    let copy = node_at(root, addr)?.clone();
    let g = group_mut(root, parent)?;
    g.children.insert(last + 1, copy);
    let mut a = parent.to_vec();
    a.push(last + 1);
    Some(a)
}

/// Moves the node at `addr` one place up (`-1`) or down (`+1`) among its
/// siblings; returns its new address.
pub fn move_by(root: &mut Node, addr: &[usize], delta: isize) -> Option<Vec<usize>> {
    let (last, parent) = addr.split_last()?;
    let g = group_mut(root, parent)?;
    let to = last.checked_add_signed(delta)?;
    if to >= g.children.len() {
        return None;
    }
    g.children.swap(*last, to);
    let mut a = parent.to_vec();
    a.push(to);
    Some(a)
}

/// Moves the node at `from` into the group at `to_group`, at `index`
/// (drag and drop). Refuses to move a group into itself.
pub fn move_to(root: &mut Node, from: &[usize], to_group: &[usize], index: usize) -> Option<()> {
    if to_group.starts_with(from) {
        return None;
    }
    // Removing `from` shifts later siblings in the same group.
    let (from_last, from_parent) = from.split_last()?;
    let mut target = to_group.to_vec();
    if to_group.len() > from_parent.len()
        && to_group.starts_with(from_parent)
        && to_group[from_parent.len()] > *from_last
    {
        target[from_parent.len()] -= 1;
    }
    let mut index = index;
    if to_group == from_parent && index > *from_last {
        index -= 1;
    }
    let node = remove(root, from)?;
    let g = group_mut(root, &target)?;
    let index = index.min(g.children.len());
    g.children.insert(index, node);
    Some(())
}

pub fn toggle_not(root: &mut Node, addr: &[usize]) -> Option<()> {
    let n = node_at_mut(root, addr)?;
    let not = n.not();
    n.set_not(!not);
    Some(())
}

pub fn set_combine(root: &mut Node, addr: &[usize], combine: Combine) -> Option<()> {
    group_mut(root, addr)?.combine = combine;
    Some(())
}

/// Wraps the condition at `addr` in a new group (to add OR alternatives).
pub fn wrap_in_group(root: &mut Node, addr: &[usize], combine: Combine) -> Option<()> {
    let n = node_at_mut(root, addr)?;
    let inner = std::mem::replace(n, empty_group(combine));
    if let Node::Group(g) = n {
        g.children.push(inner);
    }
    Some(())
}

/// Every node address in pre-order.
pub fn addresses(root: &Node) -> Vec<Vec<usize>> {
    fn walk(n: &Node, addr: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
        out.push(addr.clone());
        if let Node::Group(g) = n {
            for (i, c) in g.children.iter().enumerate() {
                addr.push(i);
                walk(c, addr, out);
                addr.pop();
            }
        }
    }
    let mut out = Vec::new();
    walk(root, &mut Vec::new(), &mut out);
    out
}

/// An edited rule with its undo and redo history.
#[derive(Clone, Debug)]
pub struct RuleHistory {
    pub rule: Rule,
    undo: Vec<Rule>,
    redo: Vec<Rule>,
}

impl RuleHistory {
    pub fn new(rule: Rule) -> RuleHistory {
        RuleHistory {
            rule,
            undo: Vec::new(),
            redo: Vec::new(),
        }
    }

    /// Applies `f` to the rule; if it changed anything, it can be undone.
    pub fn edit<R>(&mut self, f: impl FnOnce(&mut Node) -> R) -> R {
        let before = self.rule.clone();
        let r = f(&mut self.rule.root);
        if self.rule != before {
            self.undo.push(before);
            self.redo.clear();
            if self.undo.len() > 500 {
                self.undo.remove(0);
            }
        }
        r
    }

    /// Like [`RuleHistory::edit`], but merges into the previous step (typing
    /// in one field makes one undo step, not one per key).
    pub fn edit_merged(&mut self, f: impl FnOnce(&mut Node)) {
        if self.undo.is_empty() {
            self.edit(f);
        } else {
            f(&mut self.rule.root);
            self.redo.clear();
        }
    }

    pub fn can_undo(&self) -> bool {
        !self.undo.is_empty()
    }

    pub fn can_redo(&self) -> bool {
        !self.redo.is_empty()
    }

    pub fn undo(&mut self) -> bool {
        match self.undo.pop() {
            Some(prev) => {
                self.redo.push(std::mem::replace(&mut self.rule, prev));
                true
            }
            None => false,
        }
    }

    pub fn redo(&mut self) -> bool {
        match self.redo.pop() {
            Some(next) => {
                self.undo.push(std::mem::replace(&mut self.rule, next));
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf(field: &str) -> Node {
        serde_json::from_value(json!({"type": "profile", "field": field, "op": "is_set"})).unwrap()
    }

    fn fields(n: &Node) -> Vec<String> {
        addresses(n)
            .into_iter()
            .filter_map(|a| match node_at(n, &a) {
                Some(Node::Profile(p)) => Some(p.field.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn tree_edits_by_address() {
        let mut root = empty_group(Combine::All);
        add_child(&mut root, &[], leaf("a")).unwrap();
        let g = add_child(&mut root, &[], empty_group(Combine::Any)).unwrap();
        assert_eq!(g, vec![1]);
        add_child(&mut root, &g, leaf("b")).unwrap();
        add_child(&mut root, &g, leaf("c")).unwrap();
        assert_eq!(fields(&root), ["a", "b", "c"]);
        assert_eq!(path_string(&[1, 0]), "root.children[1].children[0]");

        assert_eq!(move_by(&mut root, &[1, 1], -1), Some(vec![1, 0]));
        assert_eq!(fields(&root), ["a", "c", "b"]);
        assert_eq!(move_by(&mut root, &[1, 0], -1), None);
        duplicate(&mut root, &[0]).unwrap();
        assert_eq!(fields(&root), ["a", "a", "c", "b"]);
        remove(&mut root, &[1]).unwrap();
        toggle_not(&mut root, &[0]).unwrap();
        assert!(node_at(&root, &[0]).unwrap().not());
        // Drag "b" out of the group to the front.
        move_to(&mut root, &[1, 1], &[], 0).unwrap();
        assert_eq!(fields(&root), ["b", "a", "c"]);
        // A group cannot go into itself.
        assert!(move_to(&mut root, &[2], &[2], 0).is_none());
        wrap_in_group(&mut root, &[0], Combine::Any).unwrap();
        assert!(matches!(node_at(&root, &[0]), Some(Node::Group(_))));
        assert_eq!(fields(&root), ["b", "a", "c"]);
        assert!(remove(&mut root, &[]).is_none());
    }

    #[test]
    fn undo_and_redo_walk_the_history() {
        let mut h = RuleHistory::new(Rule::everyone());
        h.edit(|r| add_child(r, &[], leaf("a")));
        h.edit(|r| add_child(r, &[], leaf("b")));
        h.edit(|r| add_child(r, &[], leaf("c")));
        // An edit that changes nothing is not a step.
        h.edit(|r| move_by(r, &[0], -1));
        assert_eq!(fields(&h.rule.root), ["a", "b", "c"]);
        assert!(h.undo() && h.undo());
        assert_eq!(fields(&h.rule.root), ["a"]);
        assert!(h.redo());
        assert_eq!(fields(&h.rule.root), ["a", "b"]);
        h.edit(|r| add_child(r, &[], leaf("d")));
        assert!(!h.can_redo());
        assert_eq!(fields(&h.rule.root), ["a", "b", "d"]);
    }
}
