// The Examples menu: the three seed questions and the classics, each with the shapes and types it was
// posed with. wrt lists the variables ticked; order 2 asks for the second derivative.

export const EXAMPLES = [
  {
    title: "y = W2·W1·h: ∂y/∂W1 in numerator layout (not W2·hᵀ)",
    expr: "W2*W1*h", wrt: ["W1"], layout: "numerator", shapes: {W2: "1x2", W1: "2x2", h: "2"},
  },
  {
    title: "C = A·B: is ∂C/∂B a 2×6 matrix or Aᵀ?",
    expr: "A*B", wrt: ["B"], layout: "numerator", shapes: {A: "1x3", B: "3x2"},
  },
  {
    title: "2-3-2 sigmoid network, MSE loss: ∂L/∂W2 and ∂L/∂W3",
    expr: "z2 = W2*x\na2 = sigmoid(z2)\nz3 = W3*a2\na3 = sigmoid(z3)\nL = 0.5*sum((a3 - y).^2)",
    wrt: ["W2", "W3"], layout: "gradient", shapes: {x: "2", W2: "3x2", W3: "2x3", y: "2"},
  },
  {
    title: "Quadratic form x'·A·x: the gradient",
    expr: "x'*A*x", wrt: ["x"], layout: "gradient", shapes: {},
  },
  {
    title: "Quadratic form with a symmetric S: 2·S·x",
    expr: "x'*S*x", wrt: ["x"], layout: "gradient", shapes: {S: "3x3", x: "3"}, assume: {S: "symmetric"},
  },
  {
    title: "Least squares ‖A·x − y‖²: the gradient",
    expr: "norm2(A*x - y)^2", wrt: ["x"], layout: "gradient", shapes: {A: "5x3", x: "3", y: "5"},
  },
  {
    title: "Least squares ‖A·x − y‖²: the Hessian",
    expr: "norm2(A*x - y)^2", wrt: ["x"], order: 2, layout: "gradient", shapes: {},
  },
  {
    title: "Ridge regression: ‖X·w − y‖² + λ‖w‖²",
    expr: "norm2(X*w - y)^2 + lambda*norm2(w)^2", wrt: ["w"], layout: "gradient",
    shapes: {X: "6x3", w: "3", y: "6", lambda: "scalar"},
  },
  {
    title: "Logistic regression: the gradient of the log-loss",
    expr: "sum(log(1 + exp(-y.*(X*w))))", wrt: ["w"], layout: "gradient", shapes: {X: "6x3", w: "3", y: "6"},
  },
  {
    title: "Logistic regression: the Hessian",
    expr: "sum(log(1 + exp(-y.*(X*w))))", wrt: ["w"], order: 2, layout: "gradient",
    shapes: {X: "6x3", w: "3", y: "6"},
  },
  {
    title: "Softmax classifier: cross-entropy, ∂L/∂W",
    expr: "z = W*x\nL = logsumexp(z) - y'*z", wrt: ["W"], layout: "gradient",
    shapes: {W: "3x4", x: "4", y: "3"},
  },
  {
    title: "Gaussian log-likelihood: ∂/∂S and ∂/∂m",
    expr: "r = x - m\nL = -0.5*logdet(S) - 0.5*r'*inv(S)*r", wrt: ["S", "m"], layout: "gradient",
    shapes: {x: "3", m: "3", S: "3x3"}, assume: {S: "spd"},
  },
  {
    title: "PCA, trace form: ∂ tr(Wᵀ·S·W)/∂W",
    expr: "tr(W'*S*W)", wrt: ["W"], layout: "gradient", shapes: {S: "4x4", W: "4x2"}, assume: {S: "symmetric"},
  },
  {
    title: "Batch MLP: ReLU hidden layer, squared error over a batch",
    expr: "H = relu(W1*X)\nL = 0.5*norm2(W2*H - Y)^2", wrt: ["W1", "W2"], layout: "gradient",
    shapes: {X: "3x5", W1: "4x3", W2: "2x4", Y: "2x5"},
  },
  {
    title: "Autoencoder with tied weights: ‖Wᵀ·tanh(W·X) − X‖²",
    expr: "Z = tanh(W*X)\nL = 0.5*norm2(W'*Z - X)^2", wrt: ["W"], layout: "gradient",
    shapes: {W: "2x4", X: "4x6"},
  },
  {
    title: "Matrix factorisation: ‖U·Vᵀ − R‖², ∂/∂U and ∂/∂V",
    expr: "norm2(U*V' - R)^2", wrt: ["U", "V"], layout: "gradient", shapes: {U: "5x2", V: "4x2", R: "5x4"},
  },
  {
    title: "log det of an SPD matrix: inv(S)",
    expr: "logdet(S)", wrt: ["S"], layout: "gradient", shapes: {S: "3x3"}, assume: {S: "spd"},
  },
  {
    title: "The Jacobian of A·x, in both layouts",
    expr: "A*x", wrt: ["x"], layout: "numerator", shapes: {A: "2x3", x: "3"},
  },
  {
    title: "The bias trap: is b in W·x + b a scalar or a vector?",
    expr: "sum(sigmoid(W*x + b))", wrt: ["b"], layout: "gradient", shapes: {W: "3x2", x: "2"},
  },
  {
    title: "A bias on a batch: W·X + b, the bias's gradient sums the batch",
    expr: "0.5*sum((W*X + b - Y).^2)", wrt: ["W", "b"], layout: "gradient",
    shapes: {W: "3x4", X: "4x6", b: "3", Y: "3x6"},
  },
  {
    title: "Layer norm of each column (features down the columns)",
    expr: "M = Z - mean(Z, 1)\nS = sqrt(mean(M.^2, 1) + 0.00001)\nsum(sum((M./S).*G))", wrt: ["Z"], layout: "gradient",
    shapes: {Z: "4x6", G: "4x6"},
  },
  {
    title: "Attention: softmax(Q·Kᵀ/√d, by rows)·V",
    expr: "P = softmax(Q*K'/sqrt(8), 2)\nsum(sum((P*V).*G))", wrt: ["Q", "V"], layout: "gradient",
    shapes: {Q: "5x8", K: "5x8", V: "5x8", G: "5x8"},
  },
];
