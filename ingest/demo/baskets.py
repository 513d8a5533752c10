"""Data in (demo data): what customers buy — product choice, quantities and priced lines, in whole cents.

The arithmetic is crm_app.services.pricing.line_amounts vectorised over integer cents: gross =
quantity × unit price; discount = gross × pct / 100 rounded half up to the cent; total = gross −
discount (tests check both give the same figures). Prices follow the account's price policy exactly as
crm_app.services.pricing.policy_price resolves it: product item, else category item, else the default.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa


@dataclass
class Catalogue:
    """Products (grouped by leaf category) and everything a basket needs to know about them."""

    product_ids: np.ndarray
    leaf: np.ndarray  # leaf category index of each product
    root: np.ndarray  # root category index of each product
    price_cents: np.ndarray
    cost_cents: np.ndarray  # [product, month]: unit cost at the time (drifts with inflation)
    qty_extra: np.ndarray  # mean extra units per line beyond the first
    defect: np.ndarray  # how often the product causes a complaint or a repair
    popularity: np.ndarray  # cumulative sales weights, products ordered by leaf
    leaf_lo: np.ndarray  # cumulative-weight range of each leaf
    leaf_hi: np.ndarray
    companion: np.ndarray  # product often bought together with each product
    names: pa.Array
    policy_price_cents: np.ndarray  # [policy + 1, product]; row 0 = no policy (list price)
    policy_discount_bp: np.ndarray  # [policy + 1, product]; discount in basis points (1 % = 100)
    is_hardware: np.ndarray  # products that get repaired

    @property
    def size(self) -> int:
        return len(self.product_ids)


@dataclass
class Lines:
    """Priced lines of a set of documents; ``doc`` says which document each line belongs to."""

    doc: np.ndarray
    position: np.ndarray
    product: np.ndarray  # index into the catalogue
    quantity: np.ndarray
    price_cents: np.ndarray
    discount_bp: np.ndarray
    discount_cents: np.ndarray
    total_cents: np.ndarray

    def __len__(self) -> int:
        return len(self.doc)

    def take(self, index: np.ndarray, doc: np.ndarray | None = None) -> Lines:
        return Lines(
            doc=self.doc[index] if doc is None else doc,
            position=self.position[index],
            product=self.product[index],
            quantity=self.quantity[index],
            price_cents=self.price_cents[index],
            discount_bp=self.discount_bp[index],
            discount_cents=self.discount_cents[index],
            total_cents=self.total_cents[index],
        )

    def doc_totals(self, n_docs: int) -> np.ndarray:
        return np.bincount(self.doc, weights=self.total_cents, minlength=n_docs).round().astype(np.int64)


def line_amounts_cents(quantity: np.ndarray, price_cents: np.ndarray, discount_bp: np.ndarray) -> tuple:
    """(discount, total) in cents; exactly pricing.line_amounts for whole quantities."""
    gross = quantity.astype(np.int64) * price_cents.astype(np.int64)
    discount = (gross * discount_bp.astype(np.int64) + 5_000) // 10_000  # half up, amounts are never negative
    return discount, gross - discount


def pick_products(rng: np.random.Generator, catalogue: Catalogue, leaf: np.ndarray) -> np.ndarray:
    """One product per entry of ``leaf`` (a leaf category index, or -1 for any), by popularity."""
    total = catalogue.popularity[-1]
    safe = np.maximum(leaf, 0)
    lo = np.where(leaf >= 0, catalogue.leaf_lo[safe], 0.0)
    hi = np.where(leaf >= 0, catalogue.leaf_hi[safe], total)
    x = lo + rng.random(len(leaf)) * (hi - lo)
    return np.minimum(np.searchsorted(catalogue.popularity, x, side="right"), catalogue.size - 1)


def positions(doc: np.ndarray) -> np.ndarray:
    """1, 2, 3 … within each document (``doc`` sorted)."""
    if len(doc) == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.r_[0, np.flatnonzero(np.diff(doc)) + 1]
    counts = np.diff(np.r_[starts, len(doc)])
    return np.arange(len(doc)) - np.repeat(starts, counts) + 1


def make_baskets(
    rng: np.random.Generator,
    catalogue: Catalogue,
    *,
    n_lines: np.ndarray,
    favourite_leaves: np.ndarray,
    qty_scale: np.ndarray,
    policy: np.ndarray,
    extra_discount_bp: np.ndarray,
    month: np.ndarray,
) -> tuple[Lines, np.ndarray]:
    """Priced lines for documents needing ``n_lines`` each; returns the lines and their unit costs.

    Customers mostly buy from their two favourite leaf categories; a product's companion often comes
    along (what the product-association analysis finds); a product appears once per document.
    """
    n_docs = len(n_lines)
    doc = np.repeat(np.arange(n_docs), n_lines)
    r = rng.random(len(doc))
    leaf = np.where(r < 0.45, favourite_leaves[doc, 0], np.where(r < 0.70, favourite_leaves[doc, 1], -1))
    product = pick_products(rng, catalogue, leaf)
    # the second line is often the first line's companion product
    first = np.cumsum(n_lines) - n_lines
    with_two = (n_lines >= 2) & (rng.random(n_docs) < 0.4)
    product[first[with_two] + 1] = catalogue.companion[product[first[with_two]]]
    keep = np.sort(np.unique(doc * catalogue.size + product, return_index=True)[1])
    doc, product = doc[keep], product[keep]
    quantity = 1 + rng.poisson(catalogue.qty_extra[product] * qty_scale[doc])
    price = catalogue.policy_price_cents[policy[doc], product]
    discount_bp = np.maximum(catalogue.policy_discount_bp[policy[doc], product], extra_discount_bp[doc])
    discount, total = line_amounts_cents(quantity, price, discount_bp)
    lines = Lines(doc, positions(doc), product, quantity, price, discount_bp, discount, total)
    return lines, catalogue.cost_cents[product, month[doc]]


def cents(values: np.ndarray) -> np.ndarray:
    """Money as stored (a float with two exact decimals; every backend reads it back as Decimal)."""
    return np.asarray(values, dtype=np.int64) / 100.0


def percent(basis_points: np.ndarray) -> np.ndarray:
    return np.asarray(basis_points, dtype=np.int64) / 100.0
