"""The literature suite, part 1: networks, with the closed forms of the textbooks.

Goodfellow, Bengio & Courville, *Deep Learning* ch. 6 (back-propagation on a minibatch, 6.5),
Bishop, *PRML* §5.3 (error back-propagation), Parr & Howard, "The Matrix Calculus You Need for
Deep Learning" (single examples). The closed forms are the textbooks' own, written in the
input language: H for a hidden layer's activations, the delta of a layer as a Hadamard product
of the back-propagated error with the activation's derivative, written through H (1 - H.^2 for
tanh, H.*(1 - H) for the logistic sigmoid, step(Z) for relu, sigmoid(Z) for softplus).
Shapes: inputs of 3 features, 4 hidden units, 2 outputs, a batch of 5 columns.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Case:
    source: str  # the book and section the closed form is from
    expr: str
    wrt: str | tuple
    shapes: dict
    layout: str
    closed: str  # the closed form, in the input language
    hint: dict = field(default_factory=dict)  # value kinds for tests/numerics.random_values
    cut: tuple = ()  # for an intermediate wrt: (its definition, the program with it as an input)
    assume: dict = field(default_factory=dict)  # structures the closed form relies on ({"Y": "onehot"})

    @property
    def id(self) -> str:
        wrt = "".join(self.wrt) if isinstance(self.wrt, tuple) else self.wrt
        return f"{self.expr} /{wrt} [{self.layout}]"


GOODFELLOW = "Goodfellow et al. 6.5 (minibatch backprop)"
BISHOP = "Bishop PRML 5.3"
PARR = "Parr & Howard 2018"

# activation: (f, f' through the activations H (or the pre-activation Z), needs Z bound)
ACTIVATIONS = {
    "tanh": ("(1 - H.^2)", False),
    "sigmoid": ("H.*(1 - H)", False),
    "relu": ("step(Z)", True),
    "softplus": ("sigmoid(Z)", True),
}

BATCH = {"W1": (4, 3), "X": (3, 5), "W2": (2, 4), "Y": (2, 5)}
BIASED = {**BATCH, "b1": (4,), "b2": (2,)}
DEEP = {"W1": (4, 3), "X": (3, 5), "W2": (3, 4), "W3": (2, 3), "Y": (2, 5)}
SINGLE = {"W1": (4, 3), "x": (3,), "W2": (2, 4), "y": (2,)}
SINGLE_BIASED = {**SINGLE, "b1": (4,), "b2": (2,)}
TIED = {"W": (4, 3), "X": (3, 5)}
RESIDUAL = {"W1": (4, 3), "X": (3, 5), "W2": (3, 4), "Y": (3, 5)}


def _z(name: str) -> str:
    """The pre-activation's name for an activation's: H1 → Z1, h → z."""
    return name.replace("H", "Z").replace("h", "z")


def _hidden(f: str, z: str, name: str = "H") -> tuple[str, str]:
    """(the bindings that define the hidden layer, its derivative's text)."""
    derivative, through_z = ACTIVATIONS[f]
    if through_z:
        return f"{_z(name)} = {z}; ", derivative.replace("Z", _z(name))
    return f"{name} = {f}({z}); ", derivative.replace("H", name)


def _activation(f: str, name: str) -> str:
    """How H itself is written once its pre-activation Z is bound (relu(Z)), or the name H."""
    return f"{f}({_z(name)})" if ACTIVATIONS[f][1] else name


def _two_layer(f: str) -> list[Case]:
    expr = f"0.5*sum((W2*{f}(W1*X) - Y).^2)"
    bind, d = _hidden(f, "W1*X")
    h = _activation(f, "H")
    plain = f"H = {f}(W1*X); "
    return [
        Case(GOODFELLOW, expr, "W1", BATCH, "gradient", f"{bind}((W2'*(W2*{h} - Y)).*{d})*X'"),
        Case(GOODFELLOW, expr, "W2", BATCH, "gradient", f"{plain}(W2*H - Y)*H'"),
        Case(GOODFELLOW, expr, "X", BATCH, "gradient", f"{bind}W1'*((W2'*(W2*{h} - Y)).*{d})"),
    ]


def _biased(f: str) -> list[Case]:
    expr = f"0.5*sum((W2*{f}(W1*X + b1*ones(1,5)) + b2*ones(1,5) - Y).^2)"
    bind, d = _hidden(f, "W1*X + b1*ones(1,5)")
    h = _activation(f, "H")
    error = f"W2*{h} + b2*ones(1,5) - Y"
    plain = f"H = {f}(W1*X + b1*ones(1,5)); "
    return [
        Case(GOODFELLOW, expr, "W1", BIASED, "gradient", f"{bind}((W2'*({error})).*{d})*X'"),
        Case(GOODFELLOW, expr, "b1", BIASED, "gradient", f"{bind}((W2'*({error})).*{d})*ones(5)"),
        Case(GOODFELLOW, expr, "W2", BIASED, "gradient", f"{plain}(W2*H + b2*ones(1,5) - Y)*H'"),
        Case(GOODFELLOW, expr, "b2", BIASED, "gradient", f"({error.replace(h, f'{f}(W1*X + b1*ones(1,5))')})*ones(5)"),
    ]


def _three_layer(f: str) -> list[Case]:
    expr = f"0.5*sum((W3*{f}(W2*{f}(W1*X)) - Y).^2)"
    bind1, d1 = _hidden(f, "W1*X", "H1")
    bind2, d2 = _hidden(f, f"W2*{_activation(f, 'H1')}", "H2")
    h1, h2 = _activation(f, "H1"), _activation(f, "H2")
    delta2 = f"D2 = (W3'*(W3*{h2} - Y)).*{d2}; "
    return [
        Case(GOODFELLOW, expr, "W1", DEEP, "gradient", f"{bind1}{bind2}{delta2}((W2'*D2).*{d1})*X'"),
        Case(GOODFELLOW, expr, "W2", DEEP, "gradient", f"{bind1}{bind2}{delta2}D2*{h1}'"),
        Case(GOODFELLOW, expr, "W3", DEEP, "gradient", f"H2 = {f}(W2*{f}(W1*X)); (W3*H2 - Y)*H2'"),
    ]


def _intermediates(f: str) -> list[Case]:
    program = f"Z1 = W1*X; A1 = {f}(Z1); 0.5*sum((W2*A1 - Y).^2)"
    derivative = ACTIVATIONS[f][0].replace("H", "A1").replace("Z", "Z1")
    bound = f"Z1 = W1*X; A1 = {f}(Z1); " if ACTIVATIONS[f][1] else f"A1 = {f}(W1*X); "
    from_z = ("W1*X", f"A1 = {f}(Z1); 0.5*sum((W2*A1 - Y).^2)")
    from_a = (f"{f}(W1*X)", "0.5*sum((W2*A1 - Y).^2)")
    return [
        Case(BISHOP, program, "Z1", BATCH, "gradient", f"{bound}(W2'*(W2*A1 - Y)).*{derivative}", cut=from_z),
        Case(BISHOP, program, "A1", BATCH, "gradient", f"W2'*(W2*{f}(W1*X) - Y)", cut=from_a),
    ]


def _tied(f: str) -> list[Case]:
    bind, d = _hidden(f, "W*X")
    h = _activation(f, "H")
    return [Case(GOODFELLOW + ", tied autoencoder", f"0.5*sum((W'*{f}(W*X) - X).^2)", "W", TIED, "gradient",
                 f"{bind}R = W'*{h} - X; {h}*R' + ((W*R).*{d})*X'")]


def _residual(f: str) -> list[Case]:
    expr = f"0.5*sum((X + W2*{f}(W1*X) - Y).^2)"
    bind, d = _hidden(f, "W1*X")
    h = _activation(f, "H")
    return [
        Case("He et al. 2016, residual block", expr, "W1", RESIDUAL, "gradient",
             f"{bind}((W2'*(X + W2*{h} - Y)).*{d})*X'"),
        Case("He et al. 2016, residual block", expr, "W2", RESIDUAL, "gradient",
             f"H = {f}(W1*X); (X + W2*H - Y)*H'"),
    ]


def _single(f: str) -> list[Case]:
    expr = f"0.5*sum((W2*{f}(W1*x) - y).^2)"
    bind, d = _hidden(f, "W1*x", "h")
    h = _activation(f, "h")
    biased = f"0.5*norm2(W2*{f}(W1*x + b1) + b2 - y)^2"
    bbind, bd = _hidden(f, "W1*x + b1", "h")
    return [
        Case(PARR, expr, "W1", SINGLE, "gradient", f"{bind}((W2'*(W2*{h} - y)).*{d})*x'"),
        Case(PARR, expr, "W2", SINGLE, "gradient", f"h = {f}(W1*x); (W2*h - y)*h'"),
        Case(PARR, expr, "x", SINGLE, "gradient", f"{bind}W1'*((W2'*(W2*{h} - y)).*{d})"),
        Case(PARR, biased, "b1", SINGLE_BIASED, "gradient", f"{bbind}(W2'*(W2*{h} + b2 - y)).*{bd}"),
        Case(PARR, biased, "b2", SINGLE_BIASED, "gradient", f"W2*{f}(W1*x + b1) + b2 - y"),
        Case(PARR, f"{f}(W1*x + b1)", "x", SINGLE_BIASED, "numerator", f"diag({_plain(f, 'W1*x + b1')})*W1"),
    ]


def _plain(f: str, z: str) -> str:
    """f'(z) written out, with nothing bound."""
    derivative = ACTIVATIONS[f][0].removeprefix("(").removesuffix(")") if f == "tanh" else ACTIVATIONS[f][0]
    return derivative.replace("H", f"{f}({z})") if not ACTIVATIONS[f][1] else derivative.replace("Z", f"{z}")


def _losses() -> list[Case]:
    """Regularised and linear losses on a batch (Goodfellow 5.2, 7.1; Bishop 3.1)."""
    linear = {"W": (2, 3), "X": (3, 5), "Y": (2, 5), "c": ()}
    logistic = {"W": (1, 3), "X": (3, 5), "Y": (1, 5)}
    return [
        Case("Goodfellow 5.1.4, linear regression", "0.5*sum((W*X - Y).^2)", "W", linear, "gradient", "(W*X - Y)*X'"),
        Case("Goodfellow 5.1.4, linear regression", "0.5*sum((W*X - Y).^2)", "X", linear, "gradient", "W'*(W*X - Y)"),
        Case("Goodfellow 7.1, weight decay", "0.5*sum((W*X - Y).^2) + 0.5*c*sum(W.^2)", "W", linear, "gradient",
             "(W*X - Y)*X' + c*W"),
        Case("Bishop 3.1.4, ridge", "0.5*norm2(W*X - Y)^2 + 0.5*c*norm2(W)^2", "W", linear, "gradient",
             "(W*X - Y)*X' + c*W"),
        Case("Goodfellow 6.2.2.2, sigmoid output", "0.5*sum((sigmoid(W*X) - Y).^2)", "W", logistic, "gradient",
             "S = sigmoid(W*X); ((S - Y).*S.*(1 - S))*X'"),
        Case("Bishop 4.3.2, logistic regression", "-sum(Y.*log(sigmoid(W*X)) + (1 - Y).*log(1 - sigmoid(W*X)))",
             "W", logistic, "gradient", "(sigmoid(W*X) - Y)*X'", {"Y": "unit"}),
        Case("Goodfellow 6.2.2.3, softplus form", "sum(softplus(W*X) - Y.*(W*X))", "W", logistic, "gradient",
             "(sigmoid(W*X) - Y)*X'"),
        Case("Bishop 5.2, sum-of-squares", "sum((W*X - Y).^2)/5", "W", linear, "gradient", "0.4*(W*X - Y)*X'"),
        Case("Goodfellow 6.2.2.3, softmax classifier", "-sum(y.*log(softmax(W*x)))", "W",
             {"W": (3, 4), "x": (4,), "y": (3,)}, "gradient", "(sum(y)*softmax(W*x) - y)*x'"),
        Case("Goodfellow 6.2.2.3, softmax classifier", "-sum(y.*log(softmax(z)))", "z", {"z": (3,), "y": (3,)},
             "gradient", "sum(y)*softmax(z) - y"),
        Case("Goodfellow 6.2.2.3, softmax written out", "-sum(y.*log(exp(z)./sum(exp(z))))", "z",
             {"z": (3,), "y": (3,)}, "gradient", "sum(y)*softmax(z) - y"),
        Case("Goodfellow 6.2.2.3, softmax written out", "-y'*log(exp(z)/sum(exp(z)))", "z", {"z": (3,), "y": (3,)},
             "gradient", "sum(y)*softmax(z) - y"),
        Case("Goodfellow 6.2.2.3, softmax written out", "log(sum(exp(W*x))) - y'*W*x", "W",
             {"W": (3, 4), "x": (4,), "y": (3,)}, "gradient", "(softmax(W*x) - y)*x'"),
        Case("Goodfellow 6.2.2.3, softmax written out", "-y'*log(exp(W2*tanh(W1*x))/sum(exp(W2*tanh(W1*x))))",
             "W1", {"W1": (4, 3), "x": (3,), "W2": (3, 4), "y": (3,)}, "gradient",
             "h = tanh(W1*x); ((W2'*(sum(y)*softmax(W2*h) - y)).*(1 - h.^2))*x'"),
        Case("Bishop 4.3.4 (4.109), softmax on a batch", "-sum(Y.*log(softmax(W*X)))", "W",
             {"W": (3, 4), "X": (4, 5), "Y": (3, 5)}, "gradient", "(softmax(W*X)*diag(Y'*ones(3)) - Y)*X'"),
        Case("Goodfellow 6.2.2.3, softmax classifier", "-y'*log(softmax(W2*tanh(W1*x)))", "W1",
             {"W1": (4, 3), "x": (3,), "W2": (3, 4), "y": (3,)}, "gradient",
             "h = tanh(W1*x); ((W2'*(sum(y)*softmax(W2*h) - y)).*(1 - h.^2))*x'"),
    ]


CASES: tuple[Case, ...] = tuple(
    case
    for f in ACTIVATIONS
    for case in (*_two_layer(f), *_biased(f), *_three_layer(f), *_intermediates(f), *_tied(f), *_residual(f),
                 *_single(f))
) + tuple(_losses())
