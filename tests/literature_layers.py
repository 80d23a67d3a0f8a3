"""The literature suite, part 3: the layers after a first network, in the language's layer syntax
(implicit expansion, sums and means by row or column, softmax by row, dimension names).

Sources: Goodfellow, Bengio & Courville, *Deep Learning* §6.5 (a bias on a minibatch: its gradient
sums the batch) and §6.2.2.3 (softmax units, cross-entropy); Bishop, *PRML* §4.3.4 (multiclass
logistic regression: (Y - T)ᵀΦ) and §5.3; Ba, Kiros & Hinton 2016 (layer normalisation); Zhang &
Sennrich 2019 (RMSNorm); Ioffe & Szegedy 2015 (batch normalisation, whose backward pass is the
layer norm's with rows for columns); Vaswani et al. 2017 (scaled dot-product attention), with the
softmax's vector-Jacobian product S.*(G - sum(G.*S, 2)); Dauphin et al. 2017 (gated linear units);
He et al. 2016 (residual blocks); van den Oord et al. 2018 (InfoNCE, a softmax cross-entropy over
similarities). Each closed form is the source's own, written in the input language.

Shapes: 3 inputs, 4 hidden units, 2 outputs and a batch of 5 columns; tokens n = 4, width d = 3.
"""

from __future__ import annotations

from literature_networks import Case

GOODFELLOW = "Goodfellow et al. 6.5"
GOODFELLOW_SOFTMAX = "Goodfellow et al. 6.2.2.3"
BISHOP = "Bishop PRML 4.3.4"
BA = "Ba, Kiros & Hinton 2016"
RMS = "Zhang & Sennrich 2019"
IOFFE = "Ioffe & Szegedy 2015"
VASWANI = "Vaswani et al. 2017"
DAUPHIN = "Dauphin et al. 2017"
HE = "He et al. 2016"
OORD = "van den Oord et al. 2018"

LINEAR = {"W": (2, 3), "X": (3, 5), "b": (2,), "Y": (2, 5)}
ROWS = {"W": (3, 2), "X": (5, 3), "c": (2,), "Y": (5, 2)}
MLP = {"W1": (4, 3), "b1": (4,), "W2": (2, 4), "b2": (2,), "X": (3, 5), "Y": (2, 5)}
NORM = {"Z": (4, 5), "G": (4, 5), "g": (4,), "h": (4,)}
ATTENTION = {"Q": (4, 3), "K": (4, 3), "V": (4, 3), "G": (4, 3)}
PROJECTED = {"X": (4, 3), "Wq": (3, 3), "Wk": (3, 3), "Wv": (3, 3), "G": (4, 3)}

# the activations of a hidden layer H = f(Z) and f' written through H or Z (literature_networks.py)
ACTIVATIONS = {"tanh": "(1 - H.^2)", "sigmoid": "H.*(1 - H)", "relu": "step(Z)", "softplus": "sigmoid(Z)"}


def _linear() -> list[Case]:
    squared = "0.5*sum((W*X + b - Y).^2)"
    mean = "mean((W*X + b - Y).^2)"
    rows = "0.5*sum((X*W + c' - Y).^2)"
    return [
        Case(GOODFELLOW, squared, "W", LINEAR, "gradient", "(W*X + b - Y)*X'"),
        Case(GOODFELLOW, squared, "b", LINEAR, "gradient", "sum(W*X + b - Y, 2)"),
        Case(GOODFELLOW, squared, "X", LINEAR, "gradient", "W'*(W*X + b - Y)"),
        Case(GOODFELLOW, mean, "W", LINEAR, "gradient", "2/10*(W*X + b - Y)*X'"),
        Case(GOODFELLOW, mean, "b", LINEAR, "gradient", "2/10*sum(W*X + b - Y, 2)"),
        Case(GOODFELLOW, rows, "W", ROWS, "gradient", "X'*(X*W + c' - Y)"),
        Case(GOODFELLOW, rows, "c", ROWS, "gradient", "sum(X*W + c' - Y, 1)'"),
        Case(GOODFELLOW, "sum(sum(W*X + b, 1))", "b", LINEAR, "gradient", "5*ones(2)"),
        Case(GOODFELLOW, "0.5*sum(mean((W*X + b - Y).^2, 2))", "b", LINEAR, "gradient",
             "sum(W*X + b - Y, 2)/5"),
    ]


def _mlp() -> list[Case]:
    cases = []
    for f, derivative in ACTIVATIONS.items():
        expr = f"H = {f}(W1*X + b1); 0.5*sum((W2*H + b2 - Y).^2)"
        bound = f"Z = W1*X + b1; H = {f}(Z); " if "Z" in derivative else f"H = {f}(W1*X + b1); "
        delta = f"(W2'*(W2*H + b2 - Y)).*{derivative}"
        cases += [
            Case(GOODFELLOW, expr, "W2", MLP, "gradient", f"{bound}(W2*H + b2 - Y)*H'"),
            Case(GOODFELLOW, expr, "b2", MLP, "gradient", f"{bound}sum(W2*H + b2 - Y, 2)"),
            Case(GOODFELLOW, expr, "W1", MLP, "gradient", f"{bound}({delta})*X'"),
            Case(GOODFELLOW, expr, "b1", MLP, "gradient", f"{bound}sum({delta}, 2)"),
        ]
    return cases


def _softmax() -> list[Case]:
    columns = "-sum(sum(Y.*log(softmax(W*X + b))))"
    by_rows = "-sum(sum(Y.*log(softmax(X*W + c', 2))))"
    logsumexp = "sum(logsumexp(W*X + b) - sum(Y.*(W*X + b), 1))"
    return [
        Case(BISHOP, columns, "W", LINEAR, "gradient", "(softmax(W*X + b) - Y)*X'", hint={"Y": "onehot"}, assume={"Y": "onehot"}),
        Case(BISHOP, columns, "b", LINEAR, "gradient", "sum(softmax(W*X + b) - Y, 2)", hint={"Y": "onehot"}, assume={"Y": "onehot"}),
        Case(GOODFELLOW_SOFTMAX, by_rows, "W", ROWS, "gradient", "X'*(softmax(X*W + c', 2) - Y)",
             hint={"Y": "rows_onehot"}, assume={"Y": "rows_onehot"}),
        Case(GOODFELLOW_SOFTMAX, by_rows, "c", ROWS, "gradient", "sum(softmax(X*W + c', 2) - Y, 1)'",
             hint={"Y": "rows_onehot"}, assume={"Y": "rows_onehot"}),
        Case(GOODFELLOW_SOFTMAX, logsumexp, "W", LINEAR, "gradient", "(softmax(W*X + b) - Y)*X'"),
        Case(GOODFELLOW_SOFTMAX, "sum(logsumexp(Z, 2))", "Z", NORM, "gradient", "softmax(Z, 2)"),
        Case(GOODFELLOW_SOFTMAX, "sum(sum(softmax(Z, 2).*G))", "Z", NORM, "gradient",
             "S = softmax(Z, 2); S.*(G - sum(G.*S, 2))"),
        Case(GOODFELLOW_SOFTMAX, "sum(sum(softmax(Z, 1).*G))", "Z", NORM, "gradient",
             "S = softmax(Z); S.*(G - sum(G.*S, 1))"),
    ]


def _normalisation() -> list[Case]:
    layer = "M = Z - mean(Z, 1); S = sqrt(mean(M.^2, 1) + 0.001); N = M./S; sum(sum(N.*G))"
    affine = "M = Z - mean(Z, 1); S = sqrt(mean(M.^2, 1) + 0.001); N = M./S; sum(sum((g.*N + h).*G))"
    rms = "R = sqrt(mean(Z.^2, 1) + 0.001); sum(sum((Z./R).*G))"
    batch = "M = Z - mean(Z, 2); S = sqrt(mean(M.^2, 2) + 0.001); N = M./S; sum(sum(N.*G))"
    ln_backward = ("M = Z - mean(Z, 1); S = sqrt(mean(M.^2, 1) + 0.001); N = M./S; "
                   "(G - mean(G, 1) - N.*mean(G.*N, 1))./S")
    return [
        Case(BA, layer, "Z", NORM, "gradient", ln_backward),
        Case(BA, affine, "g", NORM, "gradient",
             "M = Z - mean(Z, 1); S = sqrt(mean(M.^2, 1) + 0.001); sum((M./S).*G, 2)"),
        Case(BA, affine, "h", NORM, "gradient", "sum(G, 2)"),
        Case(BA, affine, "Z", NORM, "gradient",
             "M = Z - mean(Z, 1); S = sqrt(mean(M.^2, 1) + 0.001); N = M./S; "
             "(g.*G - mean(g.*G, 1) - N.*mean(g.*G.*N, 1))./S"),
        Case(RMS, rms, "Z", NORM, "gradient", "R = sqrt(mean(Z.^2, 1) + 0.001); (G - Z.*mean(G.*Z, 1)./R.^2)./R"),
        Case(IOFFE, batch, "Z", NORM, "gradient",
             "M = Z - mean(Z, 2); S = sqrt(mean(M.^2, 2) + 0.001); N = M./S; "
             "(G - mean(G, 2) - N.*mean(G.*N, 2))./S"),
        Case(BA, "sum(sum((Z - mean(Z, 1)).*G))", "Z", NORM, "gradient", "G - mean(G, 1)"),
    ]


def _attention() -> list[Case]:
    plain = "P = softmax(Q*K'/sqrt(3), 2); sum(sum((P*V).*G))"
    masked = "P = softmax(Q*K'/sqrt(3) + M, 2); sum(sum((P*V).*G))"
    shapes_masked = {**ATTENTION, "M": (4, 4)}
    projected = "P = softmax((X*Wq)*(X*Wk)'/sqrt(3), 2); sum(sum((P*(X*Wv)).*G))"
    vjp = "S.*(G*V' - sum((G*V').*S, 2))"
    return [
        Case(VASWANI, plain, "V", ATTENTION, "gradient", "softmax(Q*K'/sqrt(3), 2)'*G"),
        Case(VASWANI, plain, "Q", ATTENTION, "gradient", f"S = softmax(Q*K'/sqrt(3), 2); {vjp}*K/sqrt(3)"),
        Case(VASWANI, plain, "K", ATTENTION, "gradient", f"S = softmax(Q*K'/sqrt(3), 2); ({vjp})'*Q/sqrt(3)"),
        Case(VASWANI, masked, "V", shapes_masked, "gradient", "softmax(Q*K'/sqrt(3) + M, 2)'*G"),
        Case(VASWANI, masked, "Q", shapes_masked, "gradient", f"S = softmax(Q*K'/sqrt(3) + M, 2); {vjp}*K/sqrt(3)"),
        Case(VASWANI, projected, "Wv", PROJECTED, "gradient", "X'*softmax((X*Wq)*(X*Wk)'/sqrt(3), 2)'*G"),
        Case(VASWANI, projected, "Wq", PROJECTED, "gradient",
             "V = X*Wv; S = softmax((X*Wq)*(X*Wk)'/sqrt(3), 2); X'*(S.*(G*V' - sum((G*V').*S, 2)))*X*Wk/sqrt(3)"),
    ]


def _blocks() -> list[Case]:
    residual = {"W": (3, 3), "X": (3, 5), "Y": (3, 5)}
    gated = {"W": (2, 3), "U": (2, 3), "X": (3, 5), "G": (2, 5)}
    cosine = {"x": (3,), "y": (3,)}
    infonce = {"Z": (4, 3), "C": (4, 3)}
    return [
        Case(HE, "0.5*sum((X + tanh(W*X) - Y).^2)", "W", residual, "gradient",
             "H = tanh(W*X); ((X + H - Y).*(1 - H.^2))*X'"),
        Case(HE, "0.5*sum((X + tanh(W*X) - Y).^2)", "X", residual, "gradient",
             "H = tanh(W*X); X + H - Y + W'*((X + H - Y).*(1 - H.^2))"),
        Case(DAUPHIN, "sum(sum(((W*X).*sigmoid(U*X)).*G))", "W", gated, "gradient", "(G.*sigmoid(U*X))*X'"),
        Case(DAUPHIN, "sum(sum(((W*X).*sigmoid(U*X)).*G))", "U", gated, "gradient",
             "S = sigmoid(U*X); (G.*(W*X).*S.*(1 - S))*X'"),
        Case(GOODFELLOW, "x'*y/(norm2(x)*norm2(y))", "x", cosine, "gradient",
             "y/(norm2(x)*norm2(y)) - (x'*y)*x/(norm2(x)^3*norm2(y))"),
        Case(OORD, "-sum(log(diag(softmax(Z*C', 2))))", "Z", infonce, "gradient",
             "(softmax(Z*C', 2) - eye(4))*C"),
    ]


def _more() -> list[Case]:
    weighted = {**LINEAR, "c": (5,)}
    residual = {"W": (3, 3), "X": (3, 5), "Y": (3, 5), "b": (3,)}
    masked = {**ATTENTION, "M": (4, 4)}
    mean_ce = "-mean(sum(Y.*log(softmax(W*X + b)), 1))"
    return [
        Case(GOODFELLOW, "0.5*sum(sum(((W*X + b - Y).^2).*c'))", "b", weighted, "gradient",
             "sum((W*X + b - Y).*c', 2)"),
        Case(BISHOP, mean_ce, "W", LINEAR, "gradient", "(softmax(W*X + b) - Y)*X'/5", hint={"Y": "onehot"},
             assume={"Y": "onehot"}),
        Case(RMS, "R = sqrt(mean(Z.^2, 1) + 0.001); sum(sum((g.*(Z./R)).*G))", "g", NORM, "gradient",
             "R = sqrt(mean(Z.^2, 1) + 0.001); sum((Z./R).*G, 2)"),
        Case(VASWANI, "P = softmax(Q*K'/sqrt(3) + M, 2); sum(sum((P*V).*G))", "M", masked, "gradient",
             "S = softmax(Q*K'/sqrt(3) + M, 2); S.*(G*V' - sum((G*V').*S, 2))"),
        Case(HE, "0.5*sum((X + tanh(W*X + b) - Y).^2)", "b", residual, "gradient",
             "H = tanh(W*X + b); sum((X + H - Y).*(1 - H.^2), 2)"),
    ]


def _hessians() -> list[Case]:
    logistic = {"X": (5, 3), "y": (5,), "w": (3,)}
    return [
        Case(BISHOP, "sum(log(1 + exp(-y.*(X*w))))", ("w", "w"), logistic, "gradient",
             "s = sigmoid(y.*(X*w)); X'*diag(y.^2.*s.*(1 - s))*X"),
        Case(BISHOP, "logsumexp(z) - y'*z", ("z", "z"), {"z": (4,), "y": (4,)}, "gradient",
             "s = softmax(z); diag(s) - s*s'"),
    ]


CASES: tuple[Case, ...] = tuple(_linear() + _mlp() + _softmax() + _normalisation() + _attention() + _blocks()
                                + _more() + _hessians())
