"""Recurrent layers (nn.LSTM, nn.GRU): one fused Triton cell kernel per time step.

Each step is one launch over (batch, hidden) tiles that computes every gate as two
matmuls (the input's `x_t @ W_ih^T` and the state's `h @ W_hh^T`, fp32 `tl.dot`), adds
the biases and applies the cell's pointwise update in registers, writing the new state and
the step's slice of the output. `forward` loops over layers, directions and steps in
Python (the recurrence is sequential), double-buffering the state; the last step of each
layer and direction writes straight into `h_n` (and `c_n`). Sizes, layer counts and
weights are read from the module at run time, so one candidate serves every size.
"""

from __future__ import annotations

RNN_CELL = """@triton.jit
def _kw_rnn_gate(x_ptr, h_ptr, wih_ptr, whh_ptr, bih_ptr, bhh_ptr, rb, rh, mb, mh, I, H,
                 sxb, sxi, shb, shh, swi0, swi1, swh0, swh1, gate,
                 HAS_BIAS: tl.constexpr, BLOCK_B: tl.constexpr, BLOCK_H: tl.constexpr,
                 BLOCK_K: tl.constexpr):
    # one gate's input part (x @ W_ih[gate]^T) and state part (h @ W_hh[gate]^T)
    ax = tl.zeros((BLOCK_B, BLOCK_H), tl.float32)
    ah = tl.zeros((BLOCK_B, BLOCK_H), tl.float32)
    rows = gate * H + rh
    for k0 in range(0, I, BLOCK_K):
        rk = k0 + tl.arange(0, BLOCK_K)
        mk = rk < I
        a = tl.load(x_ptr + rb[:, None] * sxb + rk[None, :] * sxi,
                    mask=mb[:, None] & mk[None, :], other=0.0)
        w = tl.load(wih_ptr + rk[:, None] * swi1 + rows[None, :] * swi0,
                    mask=mk[:, None] & mh[None, :], other=0.0)
        ax += tl.dot(a.to(tl.float32), w.to(tl.float32), input_precision="ieee")
    for k0 in range(0, H, BLOCK_K):
        rk = k0 + tl.arange(0, BLOCK_K)
        mk = rk < H
        a = tl.load(h_ptr + rb[:, None] * shb + rk[None, :] * shh,
                    mask=mb[:, None] & mk[None, :], other=0.0)
        w = tl.load(whh_ptr + rk[:, None] * swh1 + rows[None, :] * swh0,
                    mask=mk[:, None] & mh[None, :], other=0.0)
        ah += tl.dot(a.to(tl.float32), w.to(tl.float32), input_precision="ieee")
    if HAS_BIAS:
        ax += tl.load(bih_ptr + rows, mask=mh, other=0.0).to(tl.float32)[None, :]
        ah += tl.load(bhh_ptr + rows, mask=mh, other=0.0).to(tl.float32)[None, :]
    return ax, ah


@triton.jit
def _kw_rnn_cell(x_ptr, h_ptr, c_ptr, wih_ptr, whh_ptr, bih_ptr, bhh_ptr, hout_ptr, cout_ptr,
                 y_ptr, B, I, H, sxb, sxi, shb, shh, scb, sch, swi0, swi1, swh0, swh1,
                 shob, shoh, scob, scoh, syb, syh,
                 LSTM: tl.constexpr, HAS_BIAS: tl.constexpr, BLOCK_B: tl.constexpr,
                 BLOCK_H: tl.constexpr, BLOCK_K: tl.constexpr):
    rb = tl.program_id(0) * BLOCK_B + tl.arange(0, BLOCK_B)
    rh = tl.program_id(1) * BLOCK_H + tl.arange(0, BLOCK_H)
    mb = rb < B
    mh = rh < H
    m = mb[:, None] & mh[None, :]
    hprev = tl.load(h_ptr + rb[:, None] * shb + rh[None, :] * shh, mask=m, other=0.0)
    hprev = hprev.to(tl.float32)
    if LSTM:  # gates i, f, g, o
        ix, ihh = _kw_rnn_gate(x_ptr, h_ptr, wih_ptr, whh_ptr, bih_ptr, bhh_ptr, rb, rh, mb, mh,
                               I, H, sxb, sxi, shb, shh, swi0, swi1, swh0, swh1, 0,
                               HAS_BIAS, BLOCK_B, BLOCK_H, BLOCK_K)
        fx, fh = _kw_rnn_gate(x_ptr, h_ptr, wih_ptr, whh_ptr, bih_ptr, bhh_ptr, rb, rh, mb, mh,
                              I, H, sxb, sxi, shb, shh, swi0, swi1, swh0, swh1, 1,
                              HAS_BIAS, BLOCK_B, BLOCK_H, BLOCK_K)
        gx, gh = _kw_rnn_gate(x_ptr, h_ptr, wih_ptr, whh_ptr, bih_ptr, bhh_ptr, rb, rh, mb, mh,
                              I, H, sxb, sxi, shb, shh, swi0, swi1, swh0, swh1, 2,
                              HAS_BIAS, BLOCK_B, BLOCK_H, BLOCK_K)
        ox, oh = _kw_rnn_gate(x_ptr, h_ptr, wih_ptr, whh_ptr, bih_ptr, bhh_ptr, rb, rh, mb, mh,
                              I, H, sxb, sxi, shb, shh, swi0, swi1, swh0, swh1, 3,
                              HAS_BIAS, BLOCK_B, BLOCK_H, BLOCK_K)
        c = tl.load(c_ptr + rb[:, None] * scb + rh[None, :] * sch, mask=m, other=0.0)
        c2 = tl.sigmoid(fx + fh) * c.to(tl.float32) + tl.sigmoid(ix + ihh) * _kw_tanh(gx + gh)
        h2 = tl.sigmoid(ox + oh) * _kw_tanh(c2)
        tl.store(cout_ptr + rb[:, None] * scob + rh[None, :] * scoh,
                 c2.to(cout_ptr.dtype.element_ty), mask=m)
    else:  # gates r, z, n
        rx, rhh = _kw_rnn_gate(x_ptr, h_ptr, wih_ptr, whh_ptr, bih_ptr, bhh_ptr, rb, rh, mb, mh,
                               I, H, sxb, sxi, shb, shh, swi0, swi1, swh0, swh1, 0,
                               HAS_BIAS, BLOCK_B, BLOCK_H, BLOCK_K)
        zx, zh = _kw_rnn_gate(x_ptr, h_ptr, wih_ptr, whh_ptr, bih_ptr, bhh_ptr, rb, rh, mb, mh,
                              I, H, sxb, sxi, shb, shh, swi0, swi1, swh0, swh1, 1,
                              HAS_BIAS, BLOCK_B, BLOCK_H, BLOCK_K)
        nx, nh = _kw_rnn_gate(x_ptr, h_ptr, wih_ptr, whh_ptr, bih_ptr, bhh_ptr, rb, rh, mb, mh,
                              I, H, sxb, sxi, shb, shh, swi0, swi1, swh0, swh1, 2,
                              HAS_BIAS, BLOCK_B, BLOCK_H, BLOCK_K)
        z = tl.sigmoid(zx + zh)
        n = _kw_tanh(nx + tl.sigmoid(rx + rhh) * nh)
        h2 = (1.0 - z) * n + z * hprev
    tl.store(hout_ptr + rb[:, None] * shob + rh[None, :] * shoh,
             h2.to(hout_ptr.dtype.element_ty), mask=m)
    tl.store(y_ptr + rb[:, None] * syb + rh[None, :] * syh, h2.to(y_ptr.dtype.element_ty), mask=m)
"""

RNN_DRIVER = '''def _kw_rnn(mod, x, hx, lstm):
    """nn.LSTM / nn.GRU forward: one _kw_rnn_cell launch per layer, direction and step."""
    if mod.batch_first:
        x = x.transpose(0, 1)
    T, B = x.shape[0], x.shape[1]
    H, L = mod.hidden_size, mod.num_layers
    D = 2 if mod.bidirectional else 1
    h0, c0 = (hx if lstm else (hx, None)) if hx is not None else (None, None)
    if h0 is None:
        h0 = torch.zeros(L * D, B, H, dtype=x.dtype, device=x.device)
    if lstm and c0 is None:
        c0 = torch.zeros(L * D, B, H, dtype=x.dtype, device=x.device)
    hn = torch.empty(L * D, B, H, dtype=x.dtype, device=x.device)
    cn = torch.empty(L * D, B, H, dtype=x.dtype, device=x.device) if lstm else hn
    BLOCK_B, BLOCK_H, BLOCK_K = 16, 32, 32
    grid = (triton.cdiv(B, BLOCK_B), triton.cdiv(H, BLOCK_H))
    layer_in = x
    for layer in range(L):
        out = torch.empty(T, B, D * H, dtype=x.dtype, device=x.device)
        for d in range(D):
            idx = layer * D + d
            weights = mod.all_weights[idx]
            wih, whh = weights[0], weights[1]
            bih, bhh = (weights[2], weights[3]) if mod.bias else (wih, whh)
            h = h0[idx]
            c = c0[idx] if lstm else h
            bufs = [torch.empty(B, H, dtype=x.dtype, device=x.device) for _ in range(4)]
            for s in range(T):
                t = T - 1 - s if d else s
                last = s == T - 1
                hnew = hn[idx] if last else bufs[s % 2]
                cnew = (cn[idx] if last else bufs[2 + s % 2]) if lstm else hnew
                xt = layer_in[t]
                y = out[t, :, d * H:(d + 1) * H]
                _kw_rnn_cell[grid](
                    xt, h, c, wih, whh, bih, bhh, hnew, cnew, y, B, xt.shape[1], H,
                    xt.stride(0), xt.stride(1), h.stride(0), h.stride(1), c.stride(0),
                    c.stride(1), wih.stride(0), wih.stride(1), whh.stride(0), whh.stride(1),
                    hnew.stride(0), hnew.stride(1), cnew.stride(0), cnew.stride(1),
                    y.stride(0), y.stride(1),
                    LSTM=lstm, HAS_BIAS=bool(mod.bias), BLOCK_B=BLOCK_B, BLOCK_H=BLOCK_H,
                    BLOCK_K=BLOCK_K,
                )
                h, c = hnew, cnew
        layer_in = out
    output = layer_in.transpose(0, 1) if mod.batch_first else layer_in
    return (output, (hn, cn)) if lstm else (output, hn)
'''

RNN_HELPERS = {"_kw_rnn": RNN_DRIVER, "_kw_rnn_cell": RNN_CELL}
