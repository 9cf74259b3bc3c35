r"""The prefix trie of a finite set of strings, stored as flat node arrays (distillation, S9).

Every string is a complete sequence closed by an implicit end symbol, so "ab"
and "abc" are distinct outcomes and "ab" is also a prefix of "abc". A
distribution q on the strings induces prefix masses q(s) = Σ_{x extends s} q(x)
and next-symbol conditionals q(a|s) = q(sa)/q(s), and conversely
q(x) = Π_t q(x_t | x_<t), the probability of each symbol given the symbols
before it:

.. math:: q(s) = \sum_{x \succeq s} q(x), \qquad q(a|s) = \frac{q(sa)}{q(s)},
          \qquad q(x) = \prod_t q(x_t \mid x_{<t});

:class:`Trie` computes all three with one pass over the levels of the trie (see
the distillation page of the documentation).

Nodes are numbered level by level (root = 0), and inside a level by
(parent, symbol); the children of every node are therefore contiguous, and all
per-node quantities are flat arrays indexed by node.

The module also holds the input checks the distillation functions share with the
trie: numbers must arrive as real arrays of the expected dimension, because
numpy would otherwise turn a complex array into its real part, a boolean array
into 0/1 and a 0-d array into a vector of length 1 without complaint.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from theory.validation import (
    as_real_array,
    check_distribution,
    check_int,
    check_stack,
    check_strings,
)

__all__ = ["Trie", "as_trie"]


class Trie:
    r"""The prefix trie of a finite set of strings, stored as flat node arrays (S9).

    Node 0 is the root (the empty prefix); every other node c is a prefix
    ``s + a`` of some string, with ``parent[c]`` the node of s and ``symbol[c]``
    the id of a (0 is the end symbol, ``i ≥ 1`` is ``alphabet[i - 1]``). A node
    whose symbol is the end symbol is a leaf: the complete string
    ``strings[string_index[c]]``. The root is its own parent, so walks towards
    the root can overshoot safely.

    Building is vectorized level by level (one ``np.unique`` per level) and
    every query is a pass over the levels, without per-node Python objects.

    Parameters
    ----------
    strings : iterable of str
        The n distinct strings of X; each is a complete sequence (the end symbol
        is implicit), the empty string included.

    Attributes
    ----------
    strings : tuple of str, length n
        The strings, in the order given; per-string arrays follow this order.
    alphabet : tuple of str
        The distinct characters, sorted.
    n, num_nodes, max_depth : int
        Number of strings, of nodes (leaves included), and the longest string's
        length + 1 (its leaf's depth).
    parent, symbol, depth : ndarray of int, shape (num_nodes,)
        Parent node, symbol id of the edge into the node, and depth.
    leaf : ndarray of int, shape (n,)
        The leaf node of every string.
    string_index : ndarray of int, shape (num_nodes,)
        The string a leaf closes, −1 at inner nodes.
    child_start, child_stop : ndarray of int, shape (num_nodes,)
        The children of node s are the nodes ``child_start[s]:child_stop[s]``.
    internal : ndarray of int
        The nodes with at least one child (the prefixes a router decides at).
    level_start : ndarray of int, shape (max_depth + 2,)
        The nodes of depth d are ``level_start[d]:level_start[d + 1]``.

    Raises
    ------
    ValueError
        If ``strings`` is a single str, not iterable, empty, has an element that
        is not a str, or repeats a string.

    Examples
    --------
    >>> trie = Trie(["ab", "abc", "b"])
    >>> trie.num_nodes, [trie.prefix(c) for c in trie.leaf]
    (8, ['ab$', 'abc$', 'b$'])
    >>> trie.prefix_mass([0.5, 0.25, 0.25])[trie.child_start[0]:trie.child_stop[0]]
    array([0.75, 0.25])
    """

    def __init__(self, strings: Iterable[str]):
        strings = tuple(check_strings(strings, "strings"))
        n = len(strings)
        lengths = np.fromiter(map(len, strings), dtype=np.int64, count=n)
        flat = np.frombuffer("".join(strings).encode("utf-32-le"), dtype=np.uint32)
        chars, flat_ids = np.unique(flat, return_inverse=True)
        width = chars.size + 1
        codes = np.zeros((n, int(lengths.max()) + 1), dtype=np.int64)
        rows = np.repeat(np.arange(n), lengths)
        cols = np.arange(flat.size) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        codes[rows, cols] = flat_ids + 1

        cur = np.zeros(n, dtype=np.int64)
        leaf = np.empty(n, dtype=np.int64)
        parents, symbols, starts = [np.zeros(1, np.int64)], [np.full(1, -1, np.int64)], [0, 1]
        for d in range(1, codes.shape[1] + 1):
            alive = np.flatnonzero(lengths >= d - 1)
            sym = codes[alive, d - 1]
            keys, inv = np.unique(cur[alive] * width + sym, return_inverse=True)
            cur[alive] = starts[-1] + inv
            ended = sym == 0
            leaf[alive[ended]] = cur[alive[ended]]
            parents.append(keys // width)
            symbols.append(keys % width)
            starts.append(starts[-1] + keys.size)

        order = np.argsort(leaf, kind="stable")
        same = np.flatnonzero(leaf[order][1:] == leaf[order][:-1])
        if same.size:
            i, j = sorted((int(order[same[0]]), int(order[same[0] + 1])))
            raise ValueError(
                f"strings: must be distinct, {strings[i]!r} appears at positions {i} and {j}"
            )

        self.strings = strings
        self.alphabet = tuple(chr(c) for c in chars)
        self.n = n
        self.parent = np.concatenate(parents)
        self.symbol = np.concatenate(symbols)
        self.level_start = np.asarray(starts, dtype=np.int64)
        self.num_nodes = int(self.level_start[-1])
        self.max_depth = self.level_start.size - 2
        self.depth = np.repeat(np.arange(self.max_depth + 1), np.diff(self.level_start))
        self.leaf = leaf
        self.string_index = np.full(self.num_nodes, -1, dtype=np.int64)
        self.string_index[leaf] = np.arange(n)
        ids = np.arange(self.num_nodes)
        self.child_start = np.searchsorted(self.parent[1:], ids, side="left") + 1
        self.child_stop = np.searchsorted(self.parent[1:], ids, side="right") + 1
        self.internal = np.flatnonzero(self.child_stop > self.child_start)
        # Per level d ≥ 1: the segments of equal parent, for summing children into parents.
        self._segments = []
        for d in range(1, self.max_depth + 1):
            lo, hi = int(self.level_start[d]), int(self.level_start[d + 1])
            p = self.parent[lo:hi]
            seg = np.flatnonzero(np.r_[True, p[1:] != p[:-1]])
            self._segments.append((lo, hi, seg, p[seg]))
        for a in (
            self.parent,
            self.symbol,
            self.depth,
            self.leaf,
            self.string_index,
            self.child_start,
            self.child_stop,
            self.internal,
            self.level_start,
        ):
            a.setflags(write=False)

    def __repr__(self) -> str:
        return (
            f"Trie(n={self.n}, num_nodes={self.num_nodes}, max_depth={self.max_depth}, "
            f"alphabet={''.join(self.alphabet)!r})"
        )

    def prefix(self, node: int) -> str:
        """The prefix spelled by ``node``, a leaf's end symbol written ``'$'``.

        Parameters
        ----------
        node : int
            A node index, ``0 ≤ node < num_nodes``.

        Returns
        -------
        str
            The symbols on the path from the root to ``node``.

        Raises
        ------
        ValueError
            If ``node`` is not an integer or out of range.

        Examples
        --------
        >>> trie = Trie(["a", "ab", "b"])
        >>> [trie.prefix(c) for c in range(trie.num_nodes)]
        ['', 'a', 'b', 'a$', 'ab', 'b$', 'ab$']
        """
        node = check_int(node, "node", minimum=0)
        if node >= self.num_nodes:
            raise ValueError(f"node: expected an index < {self.num_nodes}, got {node}")
        out = []
        while node:
            a = int(self.symbol[node])
            out.append(self.alphabet[a - 1] if a else "$")
            node = int(self.parent[node])
        return "".join(reversed(out))

    def _check_values(self, q, name: str) -> np.ndarray:
        a = as_real_array(q, name, ndim=(1, 2))
        q = check_distribution(a, name) if a.ndim == 1 else check_stack(a, name)
        if q.shape[-1] != self.n:
            raise ValueError(
                f"{name}: expected {self.n} entries per row (one per string), got {q.shape[-1]}"
            )
        return q

    def _mass(self, q: np.ndarray) -> np.ndarray:
        mass = np.zeros(q.shape[:-1] + (self.num_nodes,))
        mass[..., self.leaf] = q
        for lo, hi, seg, owners in reversed(self._segments):
            mass[..., owners] = np.add.reduceat(mass[..., lo:hi], seg, axis=-1)
        return mass

    def _conditionals(self, mass: np.ndarray) -> np.ndarray:
        up = mass[..., self.parent]
        return np.divide(mass, up, out=np.zeros_like(mass), where=up > 0)

    def _path_products(self, cond: np.ndarray) -> np.ndarray:
        prob = np.array(cond, dtype=np.float64)
        prob[..., 0] = 1.0
        for lo, hi, _, _ in self._segments:
            prob[..., lo:hi] *= prob[..., self.parent[lo:hi]]
        return prob

    def _path_sums(self, values: np.ndarray) -> np.ndarray:
        """The sum of ``values`` along the path from the root to every node (root: 0)."""
        total = np.array(values, dtype=np.float64)
        total[..., 0] = 0.0
        for lo, hi, _, _ in self._segments:
            total[..., lo:hi] += total[..., self.parent[lo:hi]]
        return total

    def prefix_mass(self, q) -> np.ndarray:
        r"""Prefix masses q(s) = Σ_{x extends s} q(x) of every node.

        .. math:: q(s) = \sum_{x \succeq s} q(x).

        Children are summed into parents level by level, from the leaves up.

        Parameters
        ----------
        q : array_like, shape (n,) or (K, n)
            A distribution on the strings, or a stack of them.

        Returns
        -------
        ndarray, shape (num_nodes,) or (K, num_nodes)
            q(s) at every node: 1 at the root, q(x) at the leaf of x.

        Raises
        ------
        ValueError
            If ``q`` is not a real array of that shape with rows on the simplex.

        Examples
        --------
        >>> trie = Trie(["a", "ab", "b"])  # nodes '', a, b, a$, ab, b$, ab$
        >>> trie.prefix_mass([0.2, 0.3, 0.5])
        array([1. , 0.5, 0.5, 0.2, 0.3, 0.5, 0.3])
        """
        return self._mass(self._check_values(q, "q"))

    def conditionals(self, q) -> np.ndarray:
        r"""Next-symbol conditionals q(a|s) = q(sa)/q(s), stored at the child node sa.

        .. math:: q(a \mid s) = \frac{q(sa)}{q(s)}.

        Where q(s) = 0 the conditionals are 0: such a prefix carries no mass, so
        the convention never changes a sequence probability, and an expert with
        p_k(s) = 0 offers nothing to a router at s.

        Parameters
        ----------
        q : array_like, shape (n,) or (K, n)
            A distribution on the strings, or a stack of them.

        Returns
        -------
        ndarray, shape (num_nodes,) or (K, num_nodes)
            q(a|s) at the node sa; the root holds 1.

        Raises
        ------
        ValueError
            If ``q`` is not a real array of that shape with rows on the simplex.

        Examples
        --------
        >>> trie = Trie(["a", "ab", "b"])  # nodes '', a, b, a$, ab, b$, ab$
        >>> trie.conditionals([0.2, 0.3, 0.5])  # after "a": end 0.4, "b" 0.6
        array([1. , 0.5, 0.5, 0.4, 0.6, 1. , 1. ])
        """
        return self._conditionals(self._mass(self._check_values(q, "q")))

    def sequence_probability(self, cond) -> np.ndarray:
        r"""Reconstruct q(x) = Π_t q(x_t | x_<t) from per-node conditionals.

        .. math:: q(x) = \prod_t q(x_t \mid x_{<t}).

        The inverse of :meth:`conditionals` on Δ(X).

        Parameters
        ----------
        cond : array_like, shape (num_nodes,) or (K, num_nodes)
            The conditional of the edge into every node; the root's entry is ignored.

        Returns
        -------
        ndarray, shape (n,) or (K, n)
            The product of the conditionals along every string's path.

        Raises
        ------
        ValueError
            If ``cond`` is not a real array of that shape with finite entries ≥ 0.

        Examples
        --------
        >>> trie = Trie(["a", "ab", "b"])
        >>> trie.sequence_probability(trie.conditionals([0.2, 0.3, 0.5]))
        array([0.2, 0.3, 0.5])
        """
        c = as_real_array(cond, "cond", ndim=(1, 2))
        if c.shape[-1] != self.num_nodes:
            raise ValueError(
                f"cond: expected shape (num_nodes,) or (K, num_nodes) with "
                f"num_nodes = {self.num_nodes}, got {c.shape}"
            )
        if not np.all(np.isfinite(c)) or np.any(c < 0):
            raise ValueError("cond: entries must be finite and non-negative")
        return self._path_products(c)[..., self.leaf]


def as_trie(strings) -> Trie:
    """``strings`` itself if it is already a :class:`Trie`, else the trie built on it.

    Parameters
    ----------
    strings : Trie or iterable of str
        A trie, or the distinct strings to build one on.

    Returns
    -------
    Trie

    Raises
    ------
    ValueError
        As :class:`Trie`, when a trie has to be built.

    Examples
    --------
    >>> trie = Trie(["a", "b"])
    >>> as_trie(trie) is trie, as_trie(["a", "b"]).n
    (True, 2)
    """
    return strings if isinstance(strings, Trie) else Trie(strings)
