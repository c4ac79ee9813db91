package pdns

import (
	"net/http"
	"strconv"
	"time"

	"github.com/qsmo/qsmo/internal/authz"
	"github.com/qsmo/qsmo/internal/web"
)

type officeData struct {
	viewHelpers
	Agencies []AgencySummary
	Nodes    []NodeInfo
	NoLog    bool
	Served   int
}

func (h *Handlers) office(w http.ResponseWriter, r *http.Request) error {
	p := web.PrincipalFrom(r.Context())
	office, err := officeID(r.Context(), h.S.DB)
	if err != nil {
		return err
	}
	if err := h.S.Authz.Check(r.Context(), p, authz.DNSRead, office); err != nil {
		return err
	}
	now := time.Now()
	d := officeData{NoLog: h.S.QueryLog == nil}
	if d.Agencies, err = h.S.AgencySummaries(r.Context(), p, now.Add(-24*time.Hour), now); err != nil {
		return err
	}
	for _, a := range d.Agencies {
		if a.Provisioned {
			d.Served++
		}
	}
	if d.Nodes, err = h.S.Nodes(r.Context()); err != nil {
		return err
	}
	h.V.Render(w, r, http.StatusOK, "dns_office", web.Page{Title: "Protective DNS", Side: officeSide, Data: d})
	return nil
}

// Refresh intervals offered for feeds.
var intervalOptions = []web.Option{
	{Value: "5", Label: "Every 5 minutes"}, {Value: "15", Label: "Every 15 minutes"}, {Value: "60", Label: "Every hour"},
	{Value: "360", Label: "Every 6 hours"}, {Value: "1440", Label: "Every day"},
}

var formatOptions = []web.Option{
	{Value: "auto", Label: "Detect it"}, {Value: "plain", Label: "One domain a line"}, {Value: "hosts", Label: "Hosts file"},
	{Value: "adblock", Label: "AdBlock filter list (||domain^)"}, {Value: "rpz", Label: "Response policy zone (RPZ)"},
}

func categoryOptions() []web.Option {
	var out []web.Option
	for _, c := range Categories {
		out = append(out, web.Option{Value: c.Name, Label: c.Label})
	}
	return out
}

type feedListData struct {
	viewHelpers
	Feeds []FeedWithStatus
}

func (h *Handlers) feedList(w http.ResponseWriter, r *http.Request) error {
	feeds, err := h.S.ListFeeds(r.Context(), web.PrincipalFrom(r.Context()))
	if err != nil {
		return err
	}
	h.V.Render(w, r, http.StatusOK, "dns_feeds", web.Page{Title: "Threat feeds", Side: officeSide, Data: feedListData{Feeds: feeds}})
	return nil
}

type feedFormData struct {
	viewHelpers
	Feed       FeedWithStatus
	Formats    []web.Option
	Categories []web.Option
	Intervals  []web.Option
	FeedsDir   string
}

func (h *Handlers) feedFormData(f FeedWithStatus) feedFormData {
	return feedFormData{Feed: f, Formats: formatOptions, Categories: categoryOptions(), Intervals: intervalOptions, FeedsDir: h.S.FeedsDir}
}

func (h *Handlers) feedNewForm(w http.ResponseWriter, r *http.Request) error {
	if err := h.S.checkFeeds(r.Context(), web.PrincipalFrom(r.Context())); err != nil {
		return err
	}
	f := web.NewForm(map[string]string{"format": "auto", "interval": "60", "enabled": "on"})
	h.V.Render(w, r, http.StatusOK, "dns_feed_new", web.Page{Title: "Add a threat feed", Side: officeSide, Form: f,
		Crumbs: []web.Crumb{{Label: "Threat feeds", Href: "/dns/feeds"}}, Data: h.feedFormData(FeedWithStatus{})})
	return nil
}

// FeedInputFrom reads the feed form; the interval is in minutes.
func FeedInputFrom(f *web.Form) FeedInput {
	in := FeedInput{Name: f.Get("name"), Source: f.Get("source"), Format: f.Get("format"), Category: f.Get("category"), Enabled: f.Bool("enabled")}
	if m, err := strconv.Atoi(f.Get("interval")); err == nil && m > 0 && m <= int(MaxFeedInterval/time.Minute) {
		in.Interval = time.Duration(m) * time.Minute
	}
	return in
}

func (h *Handlers) feedCreate(w http.ResponseWriter, r *http.Request) error {
	p := web.PrincipalFrom(r.Context())
	if err := h.S.checkFeeds(r.Context(), p); err != nil {
		return err
	}
	f, err := web.ParseForm(w, r)
	if err != nil {
		return err
	}
	fd, err := h.S.CreateFeed(r.Context(), p, FeedInputFrom(f))
	if err != nil {
		if !f.Fail(err) {
			return err
		}
		h.V.Render(w, r, http.StatusUnprocessableEntity, "dns_feed_new", web.Page{Title: "Add a threat feed", Side: officeSide, Form: f,
			Crumbs: []web.Crumb{{Label: "Threat feeds", Href: "/dns/feeds"}}, Data: h.feedFormData(FeedWithStatus{})})
		return nil
	}
	return h.K.Redirect(w, r, "/dns/feeds/"+fd.ID, "success", "The feed “"+fd.Name+"” is added. The resolvers fetch it now; its status appears below within seconds.")
}

func feedForm(f Feed) *web.Form {
	form := web.NewForm(map[string]string{"name": f.Name, "source": f.Source, "format": f.Format, "category": f.Category,
		"interval": strconv.Itoa(int(f.Interval / time.Minute))})
	if f.Enabled {
		form.Values.Set("enabled", "on")
	}
	return form
}

func (h *Handlers) feedShow(w http.ResponseWriter, r *http.Request) error {
	fd, err := h.S.GetFeed(r.Context(), web.PrincipalFrom(r.Context()), r.PathValue("feed"))
	if err != nil {
		return err
	}
	h.V.Render(w, r, http.StatusOK, "dns_feed", web.Page{Title: fd.Name, Side: officeSide, Form: feedForm(fd.Feed),
		Crumbs: []web.Crumb{{Label: "Threat feeds", Href: "/dns/feeds"}}, Data: h.feedFormData(fd)})
	return nil
}

func (h *Handlers) feedUpdate(w http.ResponseWriter, r *http.Request) error {
	p := web.PrincipalFrom(r.Context())
	fd, err := h.S.GetFeed(r.Context(), p, r.PathValue("feed"))
	if err != nil {
		return err
	}
	f, err := web.ParseForm(w, r)
	if err != nil {
		return err
	}
	if _, err := h.S.UpdateFeed(r.Context(), p, fd.ID, FeedInputFrom(f)); err != nil {
		if !f.Fail(err) {
			return err
		}
		h.V.Render(w, r, http.StatusUnprocessableEntity, "dns_feed", web.Page{Title: fd.Name, Side: officeSide, Form: f,
			Crumbs: []web.Crumb{{Label: "Threat feeds", Href: "/dns/feeds"}}, Data: h.feedFormData(fd)})
		return nil
	}
	return h.K.Redirect(w, r, "/dns/feeds/"+fd.ID, "success", "The feed is saved.")
}

func (h *Handlers) feedRefresh(w http.ResponseWriter, r *http.Request) error {
	fd, err := h.S.RefreshFeed(r.Context(), web.PrincipalFrom(r.Context()), r.PathValue("feed"))
	if err != nil {
		return err
	}
	return h.K.Redirect(w, r, "/dns/feeds/"+fd.ID, "success", "The resolvers fetch “"+fd.Name+"” now; reload this page in a few seconds to see the result.")
}

func (h *Handlers) feedEnable(w http.ResponseWriter, r *http.Request) error {
	return h.feedSetEnabled(w, r, true)
}

func (h *Handlers) feedDisable(w http.ResponseWriter, r *http.Request) error {
	return h.feedSetEnabled(w, r, false)
}

func (h *Handlers) feedSetEnabled(w http.ResponseWriter, r *http.Request, on bool) error {
	fd, err := h.S.SetFeedEnabled(r.Context(), web.PrincipalFrom(r.Context()), r.PathValue("feed"), on)
	if err != nil {
		return err
	}
	msg := "“" + fd.Name + "” is turned off: its names are no longer blocked."
	if on {
		msg = "“" + fd.Name + "” is turned on."
	}
	return h.K.Redirect(w, r, "/dns/feeds/"+fd.ID, "success", msg)
}

func (h *Handlers) feedDelete(w http.ResponseWriter, r *http.Request) error {
	p := web.PrincipalFrom(r.Context())
	fd, err := h.S.GetFeed(r.Context(), p, r.PathValue("feed"))
	if err != nil {
		return err
	}
	if err := h.S.DeleteFeed(r.Context(), p, fd.ID); err != nil {
		return err
	}
	return h.K.Redirect(w, r, "/dns/feeds", "success", "“"+fd.Name+"” is removed: its names are no longer blocked.")
}

type blocksData struct {
	viewHelpers
	Blocks   []GlobalBlock
	Settings Settings
}

func (h *Handlers) blocksPage(w http.ResponseWriter, r *http.Request, status int, f *web.Form) error {
	p := web.PrincipalFrom(r.Context())
	blocks, err := h.S.ListGlobalBlocks(r.Context(), p)
	if err != nil {
		return err
	}
	st, err := h.S.GetSettings(r.Context())
	if err != nil {
		return err
	}
	if f == nil {
		f = web.NewForm(nil)
	}
	if _, ok := f.Values["sinkhole_v4"]; !ok {
		f.Values.Set("sinkhole_v4", addrText(st.SinkholeV4))
		f.Values.Set("sinkhole_v6", addrText(st.SinkholeV6))
	}
	h.V.Render(w, r, status, "dns_blocks", web.Page{Title: "Global blocks", Side: officeSide, Form: f, Data: blocksData{Blocks: blocks, Settings: st}})
	return nil
}

func (h *Handlers) blocks(w http.ResponseWriter, r *http.Request) error {
	return h.blocksPage(w, r, http.StatusOK, nil)
}

func (h *Handlers) blockAdd(w http.ResponseWriter, r *http.Request) error {
	p := web.PrincipalFrom(r.Context())
	if err := h.S.checkFeeds(r.Context(), p); err != nil {
		return err
	}
	f, err := web.ParseForm(w, r)
	if err != nil {
		return err
	}
	g, err := h.S.AddGlobalBlock(r.Context(), p, f.Get("name"), f.Get("reason"))
	if err != nil {
		if !f.Fail(err) {
			return err
		}
		return h.blocksPage(w, r, http.StatusUnprocessableEntity, f)
	}
	return h.K.Redirect(w, r, "/dns/blocks", "success", g.Name+" is blocked for every agency.")
}

func (h *Handlers) blockRemove(w http.ResponseWriter, r *http.Request) error {
	if err := h.S.RemoveGlobalBlock(r.Context(), web.PrincipalFrom(r.Context()), r.PathValue("block")); err != nil {
		return err
	}
	return h.K.Redirect(w, r, "/dns/blocks", "success", "The global block is lifted.")
}

func (h *Handlers) settingsSave(w http.ResponseWriter, r *http.Request) error {
	p := web.PrincipalFrom(r.Context())
	if err := h.S.checkFeeds(r.Context(), p); err != nil {
		return err
	}
	f, err := web.ParseForm(w, r)
	if err != nil {
		return err
	}
	if _, err := h.S.UpdateSettings(r.Context(), p, f.Get("sinkhole_v4"), f.Get("sinkhole_v6")); err != nil {
		if !f.Fail(err) {
			return err
		}
		return h.blocksPage(w, r, http.StatusUnprocessableEntity, f)
	}
	return h.K.Redirect(w, r, "/dns/blocks", "success", "The block page addresses are saved.")
}
