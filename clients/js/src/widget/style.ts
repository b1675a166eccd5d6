/** The widget's CSS, mobile first; every class starts with kefu-w- so a host page is untouched. */
export const CSS = `
.kefu-w{box-sizing:border-box;display:flex;flex-direction:column;height:100%;min-height:320px;
 font:15px/1.45 -apple-system,BlinkMacSystemFont,"PingFang SC","Microsoft YaHei","Helvetica Neue",Arial,sans-serif;
 color:#1f2329;background:#f5f6f7;border:1px solid #e5e6eb;border-radius:8px;overflow:hidden}
.kefu-w *{box-sizing:border-box}
.kefu-w-head{display:flex;align-items:center;gap:8px;padding:10px 14px;background:#fff;border-bottom:1px solid #e5e6eb}
.kefu-w-title{font-weight:600;flex:1;min-width:0;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.kefu-w-state{font-size:12px;color:#4e5969}
.kefu-w-state[data-state=live]::before{content:"";display:inline-block;width:7px;height:7px;border-radius:50%;background:#00b42a;margin-right:5px;vertical-align:1px}
.kefu-w-state[data-state=polling]{color:#d25f00}
.kefu-w-list{flex:1;overflow-y:auto;padding:12px;display:flex;flex-direction:column;gap:10px;-webkit-overflow-scrolling:touch}
.kefu-w-empty{color:#86909c;text-align:center;font-size:13px;margin:auto 0}
.kefu-w-msg{display:flex;flex-direction:column;max-width:80%}
.kefu-w-msg[data-dir=in]{align-self:flex-end;align-items:flex-end}
.kefu-w-msg[data-dir=out]{align-self:flex-start;align-items:flex-start}
.kefu-w-who{font-size:12px;color:#86909c;margin:0 4px 2px}
.kefu-w-bubble{padding:8px 12px;border-radius:12px;background:#fff;word-break:break-word;white-space:pre-wrap}
.kefu-w-msg[data-dir=in] .kefu-w-bubble{background:#1677ff;color:#fff}
.kefu-w-bubble.kefu-w-pic{padding:0;background:none!important;border-radius:6px;overflow:hidden}
.kefu-w-bubble img{display:block;max-width:200px;max-height:240px;border-radius:6px}
.kefu-w-card{background:#fff!important;color:#1f2329!important;border:1px solid #e5e6eb;min-width:180px}
.kefu-w-card b{display:block;margin-bottom:2px}
.kefu-w-card span{display:block;font-size:13px;color:#4e5969}
.kefu-w-choices{display:flex;flex-direction:column;gap:6px;margin-top:6px}
.kefu-w-choice{border:1px solid #1677ff;background:#fff;color:#1677ff;border-radius:16px;padding:5px 12px;font:inherit;font-size:13px;cursor:pointer;text-align:left}
.kefu-w-status{font-size:11px;color:#86909c;margin:2px 4px 0;background:none;border:0;padding:0;font-family:inherit}
.kefu-w-status[data-status=failed]{color:#f53f3f;cursor:pointer;text-decoration:underline}
.kefu-w-typing{font-size:12px;color:#86909c;padding:0 14px 4px;min-height:18px}
.kefu-w-bar{display:flex;align-items:flex-end;gap:8px;padding:8px;background:#fff;border-top:1px solid #e5e6eb}
.kefu-w-input{flex:1;resize:none;border:1px solid #e5e6eb;border-radius:8px;padding:8px 10px;font:inherit;max-height:120px;min-height:40px;outline-color:#1677ff}
.kefu-w-btn{border:0;border-radius:8px;padding:0 14px;height:40px;font:inherit;cursor:pointer;background:#f2f3f5;color:#1f2329}
.kefu-w-send{background:#1677ff;color:#fff}
.kefu-w-send:disabled{opacity:.5;cursor:default}
.kefu-w-sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}
@media (min-width:600px){.kefu-w{font-size:14px}.kefu-w-msg{max-width:70%}}
`;
